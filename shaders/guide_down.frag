#version 330
// First pass of the guided upsampling, run at the stylized frame's size (w, h):
//   color  = (the stylized pixel S, L = the mean luminance of the full-resolution guide over the
//             same footprint), so both live on one grid;
//   energy = the mean |Y - L| over that footprint: how much fine detail (text, thin lines) the
//             guide has there, which the net could not see.
// Footprint of low-res pixel i along an axis of the guide (G px): guide pixels floor(i*G/w) ..
// max(floor((i+1)*G/w), that + 1) - 1, every step-th one (step keeps it <= 16 a side).
// The guide's rows are stored top first like the stylized frame, so gl_FragCoord indexes both.
uniform sampler2D src;        // stylized, (w, h) RGB
uniform sampler2D guide;      // full-resolution source, RGB or BGR(A) as captured
uniform bool guide_swap;      // the guide is BGR(A): swap red and blue
layout(location = 0) out vec4 color;
layout(location = 1) out vec4 energy;

const vec3 LUMA = vec3(0.299, 0.587, 0.114);   // Rec. 601, of RGB

float luma(ivec2 c) {
    vec3 v = texelFetch(guide, c, 0).rgb;
    return dot(guide_swap ? v.bgr : v, LUMA);
}

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    ivec2 low = textureSize(src, 0);
    ivec2 g = textureSize(guide, 0);
    ivec2 lo = min(p * g / low, g - 1);
    ivec2 hi = min(max((p + 1) * g / low, lo + 1), g);
    ivec2 step = max((hi - lo + 15) / 16, ivec2(1));
    float sum = 0.0;
    float n = 0.0;
    for (int y = lo.y; y < hi.y; y += step.y) {
        for (int x = lo.x; x < hi.x; x += step.x) {
            sum += luma(ivec2(x, y));
            n += 1.0;
        }
    }
    float mean = sum / n;
    float dev = 0.0;
    for (int y = lo.y; y < hi.y; y += step.y) {
        for (int x = lo.x; x < hi.x; x += step.x) {
            dev += abs(luma(ivec2(x, y)) - mean);
        }
    }
    color = vec4(texelFetch(src, p, 0).rgb, mean);
    energy = vec4(dev / n, 0.0, 0.0, 1.0);
}
