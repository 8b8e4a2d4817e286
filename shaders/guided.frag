#version 330
// Joint bilateral upsampling (Kopf et al. 2007) of the stylized frame with the full-resolution
// source as the guide, plus the source's fine luminance detail:
//   Y   = luminance of the guide at this pixel (bilinear in float precision, clamp to edge)
//   w_q = t(q.x - u.x) t(q.y - u.y) * (exp(-(Y - L_q)^2 / (2 sigma_r^2)) + 1e-3)
//         over the low-res pixels q with |q - u| <= R a side (u: this pixel in low-res coordinates,
//         pixel centres mapped as in upsample.frag; L_q: mean guide luminance over q's footprint),
//         t(d) = max(0, 1 - |d| / R): a tent whose taps reach 0 as they leave the window, so the
//         picture has no seams where u crosses a low-res pixel centre. R = 1 (2x2 taps) costs half
//         of R = 2 (4x4) and keeps fewer of an edge's pure pixels in reach (the compositor picks it
//         on a CPU's software GL, where this pass's cost is the display rate's)
//   B   = sum w_q S_q / sum w_q,   M = sum w_q L_q / sum w_q,   r = Y - M
//   m   = min(1, (sum t_q E'_q / sum t_q) / text_energy)   (E' = E's neighbourhood maximum,
//         energy_max.frag: text marks the gaps between its lines too, and m is continuous)
//   B'  = B + detail * m * (M - luma(B))                   (stroke luminance flattened where text is)
//   out = B' + a r (1 - B')  where r > 0,   B' + a r B'  where r <= 0,   a = detail * detail_gain
// (per channel, then clamped; r cored by `core` first). Colour and strokes come from the stylized
// frame S, edges from the guide. r is what the guide has that its own low-res version, weighted the
// same way, lacks (small text, thin lines); it pulls the picture toward white or black in
// proportion to the headroom left, so dark text shows on a dark stroke and light text on a light
// one (a plain B + a r would clip). E (the guide's fine-detail energy) marks text: there the
// strokes' light and dark, which would hide the letters, give way to the source's local
// brightness; their colour stays. Photos have little such energy, so their strokes stay.
// lowres: rgb = S, a = L (guide_down.frag); energy: r = E' (energy_max.frag).
uniform sampler2D lowres;
uniform sampler2D energy;
uniform float text_energy;  // E at which a place counts as text (m = 1)
uniform sampler2D guide;
uniform bool guide_swap;
uniform float detail;       // 0..1
uniform float detail_gain;
uniform float core;         // residuals under this (luminance 0..1) are noise: dropped
uniform float sigma_r;      // luminance, 0..1
uniform bool flip_y;
uniform float fade;         // 0 = picture, 1 = fully faded to the "no signal" grid
in vec2 v_uv;
out vec4 color;

const vec3 LUMA = vec3(0.299, 0.587, 0.114);
#ifndef RADIUS
#define RADIUS 2.0
#endif
const float radius = RADIUS;          // the tent's radius R, stylized pixels (the compositor defines it)
const int TAPS = int(ceil(2.0 * RADIUS));  // a side: every q with t > 0 lies in ceil(u - R) .. + TAPS - 1

void main() {
    vec2 uv = flip_y ? vec2(v_uv.x, 1.0 - v_uv.y) : v_uv;
    ivec2 gsize = textureSize(guide, 0);
    vec2 gp = uv * vec2(gsize) - 0.5;
    vec2 gb = floor(gp);
    vec2 gf = gp - gb;
    ivec2 ghi = gsize - 1;
    ivec2 g0 = clamp(ivec2(gb), ivec2(0), ghi);
    ivec2 g1 = clamp(ivec2(gb) + 1, ivec2(0), ghi);
    vec3 g = mix(mix(texelFetch(guide, g0, 0).rgb, texelFetch(guide, ivec2(g1.x, g0.y), 0).rgb, gf.x),
                 mix(texelFetch(guide, ivec2(g0.x, g1.y), 0).rgb, texelFetch(guide, g1, 0).rgb, gf.x), gf.y);
    float y = dot(guide_swap ? g.bgr : g, LUMA);   // bilinear in full float precision (a texture
                                                   // unit's filter weights have ~8 bits)

    ivec2 lsize = textureSize(lowres, 0);
    vec2 u = uv * vec2(lsize) - 0.5;
    vec2 lo = ceil(u - radius);
    ivec2 hi = lsize - 1;
    float inv_r = 0.5 / (sigma_r * sigma_r);
    vec3 acc = vec3(0.0);
    float acc_l = 0.0;
    float acc_w = 0.0;
    float e = 0.0;
    float acc_k = 0.0;
    for (int j = 0; j < TAPS; j++) {
        for (int i = 0; i < TAPS; i++) {
            vec2 q = lo + vec2(i, j);
            ivec2 qi = clamp(ivec2(q), ivec2(0), hi);
            vec4 s = texelFetch(lowres, qi, 0);
            vec2 t = max(1.0 - abs(q - u) / radius, 0.0);
            float ks = t.x * t.y;
            float dl = y - s.a;
            float w = ks * (exp(-dl * dl * inv_r) + 1e-3);
            acc += s.rgb * w;
            acc_l += s.a * w;
            acc_w += w;
            e += ks * texelFetch(energy, qi, 0).r;
            acc_k += ks;
        }
    }
    e /= acc_k;
    float mean = acc_l / acc_w;
    float r = y - mean;
    r = sign(r) * max(abs(r) - core, 0.0);   // coring: sensor noise is not drawn back in, text is
    float m = min(1.0, e / text_energy);
    vec3 b = acc / acc_w;
    b = clamp(b + detail * m * (mean - dot(b, LUMA)), 0.0, 1.0);
    vec3 room = r > 0.0 ? 1.0 - b : b;
    vec3 picture = clamp(b + detail * detail_gain * r * room, 0.0, 1.0);
    if (fade > 0.0) {
        vec2 cell = fract(uv * vec2(16.0, 9.0));
        float line = step(cell.x, 0.03) + step(cell.y, 0.05);
        vec3 grid = mix(vec3(0.06, 0.07, 0.09), vec3(0.35, 0.4, 0.5), clamp(line, 0.0, 1.0));
        picture = mix(picture, grid, fade);
    }
    color = vec4(picture, 1.0);
}
