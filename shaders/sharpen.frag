#version 330
// Light unsharp mask on the upsampled picture: c + amount * (c - mean of the 4 neighbours).
// Restores some crispness that bicubic upsampling from the inference size softens.
uniform sampler2D src;
uniform float amount;
in vec2 v_uv;
out vec4 color;

void main() {
    ivec2 size = textureSize(src, 0);
    ivec2 p = clamp(ivec2(v_uv * vec2(size)), ivec2(0), size - 1);
    vec3 c = texelFetch(src, p, 0).rgb;
    vec3 n = texelFetch(src, clamp(p + ivec2(0, 1), ivec2(0), size - 1), 0).rgb
           + texelFetch(src, clamp(p - ivec2(0, 1), ivec2(0), size - 1), 0).rgb
           + texelFetch(src, clamp(p + ivec2(1, 0), ivec2(0), size - 1), 0).rgb
           + texelFetch(src, clamp(p - ivec2(1, 0), ivec2(0), size - 1), 0).rgb;
    color = vec4(clamp(c + amount * (c - 0.25 * n), 0.0, 1.0), 1.0);
}
