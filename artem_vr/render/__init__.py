"""Rendering: the compositor and one sink per output (window, file, VR), all the same shape."""
