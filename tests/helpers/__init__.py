"""Scripts tests run in their own process: a GLX window (glfw) and an EGL context must not share
one process under Mesa/Xvfb, and the app never mixes them, so window tests get a fresh process."""
