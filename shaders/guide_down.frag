#version 330
// First pass of the guided upsampling, run at the stylized frame's size (w, h): rgb = the stylized
// pixel, a = the mean luminance of the full-resolution guide over the same footprint, so both
// live on one grid. Footprint of low-res pixel i along an axis of the guide (G px): guide pixels
// floor(i*G/w) .. max(floor((i+1)*G/w), that + 1) - 1, every step-th one (step keeps it <= 16).
// The guide's rows are stored top first like the stylized frame, so gl_FragCoord indexes both.
uniform sampler2D src;        // stylized, (w, h) RGB
uniform sampler2D guide;      // full-resolution source, RGB or BGR(A) as captured
uniform bool guide_swap;      // the guide is BGR(A): swap red and blue
out vec4 color;

const vec3 LUMA = vec3(0.299, 0.587, 0.114);   // Rec. 601, of RGB

float luma(vec3 c, bool swap) {
    return dot(swap ? c.bgr : c, LUMA);
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
            sum += luma(texelFetch(guide, ivec2(x, y), 0).rgb, guide_swap);
            n += 1.0;
        }
    }
    color = vec4(texelFetch(src, p, 0).rgb, sum / n);
}
