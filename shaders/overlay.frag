#version 330
// Draws an RGBA overlay (the HUD) with its alpha; rows stored top first like every upload.
uniform sampler2D src;
uniform bool flip_y;
in vec2 v_uv;
out vec4 color;

void main() {
    vec2 uv = flip_y ? vec2(v_uv.x, 1.0 - v_uv.y) : v_uv;
    color = texture(src, uv);
}
