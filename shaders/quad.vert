#version 330
// A quad covering the current viewport. v_uv: (0,0) bottom-left .. (1,1) top-right.
in vec2 in_pos;
out vec2 v_uv;
void main() {
    v_uv = in_pos * 0.5 + 0.5;
    gl_Position = vec4(in_pos, 0.0, 1.0);
}
