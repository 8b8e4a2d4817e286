#version 330
// Catmull-Rom bicubic resampling (a = -0.5), 16 texel fetches with clamp-to-edge.
// Pixel centres map as in every resampler: src = (dst + 0.5) * src_size / dst_size - 0.5.
// flip_y: the source rows are stored top row first (numpy order); a display wants the top row at
// v=1, an offscreen render that is read back row by row wants it at v=0.
uniform sampler2D src;
uniform vec2 src_size;
uniform bool flip_y;
uniform float fade;         // 0 = picture, 1 = fully faded to the "no signal" grid
in vec2 v_uv;
out vec4 color;

vec4 cr_weights(float t) {
    float t2 = t * t;
    float t3 = t2 * t;
    return vec4(-0.5 * t3 + t2 - 0.5 * t,
                 1.5 * t3 - 2.5 * t2 + 1.0,
                -1.5 * t3 + 2.0 * t2 + 0.5 * t,
                 0.5 * t3 - 0.5 * t2);
}

void main() {
    vec2 uv = flip_y ? vec2(v_uv.x, 1.0 - v_uv.y) : v_uv;
    vec2 p = uv * src_size - 0.5;
    vec2 base = floor(p);
    vec2 f = p - base;
    vec4 wx = cr_weights(f.x);
    vec4 wy = cr_weights(f.y);
    ivec2 hi = ivec2(src_size) - 1;
    vec3 acc = vec3(0.0);
    for (int j = 0; j < 4; j++) {
        vec3 row = vec3(0.0);
        for (int i = 0; i < 4; i++) {
            ivec2 c = clamp(ivec2(base) + ivec2(i - 1, j - 1), ivec2(0), hi);
            row += texelFetch(src, c, 0).rgb * wx[i];
        }
        acc += row * wy[j];
    }
    vec3 picture = clamp(acc, 0.0, 1.0);
    if (fade > 0.0) {
        vec2 cell = fract(uv * vec2(16.0, 9.0));
        float line = step(cell.x, 0.03) + step(cell.y, 0.05);
        vec3 grid = mix(vec3(0.06, 0.07, 0.09), vec3(0.35, 0.4, 0.5), clamp(line, 0.0, 1.0));
        picture = mix(picture, grid, fade);
    }
    color = vec4(picture, 1.0);
}
