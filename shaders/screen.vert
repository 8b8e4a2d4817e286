#version 330
// The VR floating screen: the [-1,1]^2 quad placed in the world by mvp (projection * eye view *
// model). v_uv as in quad.vert so the same upsampling shader textures it.
uniform mat4 mvp;
in vec2 in_pos;
out vec2 v_uv;
void main() {
    v_uv = in_pos * 0.5 + 0.5;
    gl_Position = mvp * vec4(in_pos, 0.0, 1.0);
}
