"""Live settings the user changes with hotkeys while the pipeline runs (thread-safe)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from .inference.styles import StyleSpec, style_weights


@dataclass(frozen=True)
class Settings:
    style: StyleSpec
    strength: float = 1.0
    preserve_color: bool = False
    hud: bool = True
    version: int = 0


class Controls:
    """Holds :class:`Settings`; every change bumps ``version`` so the worker re-renders a still frame."""

    def __init__(self, settings: Settings, num_styles: int = 26):
        self._lock = threading.Lock()
        self._settings = settings
        self.num_styles = num_styles
        self.quit = threading.Event()
        self.fullscreen_requested = False

    @property
    def settings(self) -> Settings:
        with self._lock:
            return self._settings

    def _update(self, **changes) -> Settings:
        with self._lock:
            self._settings = replace(self._settings, version=self._settings.version + 1, **changes)
            return self._settings

    def current_index(self) -> int:
        """The style an arrow key steps from: the heaviest style of a blend."""
        s = self.settings.style
        return int(s) if isinstance(s, int) else int(style_weights(s, self.num_styles).argmax())

    def step_style(self, delta: int) -> Settings:
        return self._update(style=(self.current_index() + delta) % self.num_styles)

    def pick_style(self, index: int) -> Settings:
        return self._update(style=index % self.num_styles)

    def change_strength(self, delta: float) -> Settings:
        value = round(min(1.0, max(0.0, self.settings.strength + delta)), 2)
        return self._update(strength=value)

    def toggle_color(self) -> Settings:
        return self._update(preserve_color=not self.settings.preserve_color)

    def toggle_hud(self) -> Settings:
        return self._update(hud=not self.settings.hud)
