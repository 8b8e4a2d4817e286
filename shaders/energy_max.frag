#version 330
// Second pass of the guided upsampling, at the stylized frame's size: E' = the maximum of the
// guide's fine-detail energy E (guide_down.frag) over each pixel's (2 reach.x + 1) x
// (2 reach.y + 1) neighbourhood (clamped at the border), so the text mask also covers the gaps between lines and the letters' margins.
uniform sampler2D energy;   // r = E, (w, h)
uniform ivec2 reach;        // the neighbourhood's half size, stylized pixels (compositor.TEXT_REACH)
out vec4 color;

void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    ivec2 hi = textureSize(energy, 0) - 1;
    float e = 0.0;
    for (int j = -reach.y; j <= reach.y; j++) {
        for (int i = -reach.x; i <= reach.x; i++) {
            e = max(e, texelFetch(energy, clamp(p + ivec2(i, j), ivec2(0), hi), 0).r);
        }
    }
    color = vec4(e, 0.0, 0.0, 1.0);
}
