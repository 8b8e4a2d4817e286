"""Live settings the user changes with hotkeys while the pipeline runs (thread-safe)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

from .inference.styles import StyleSpec, is_painting_spec, style_weights

NOTICE_SECONDS = 5.0  # how long a banner (e.g. a dropped file that is no image) stays up
DIGIT_SECONDS = 0.8   # two number keys within this make a two-digit style index


@dataclass(frozen=True)
class Settings:
    style: StyleSpec
    strength: float = 1.0
    preserve_color: bool = False
    hud: bool = True
    stabilize: bool = True   # hold still regions, carry moving ones (inference/stabilize.py)
    detail: float = 0.0      # source detail the compositor adds back, 0..1 (--detail, D/Shift+D)
    version: int = 0


class Controls:
    """Holds :class:`Settings`; every change bumps ``version`` so the worker re-renders a still frame."""

    def __init__(self, settings: Settings, num_styles: int = 26):
        self._lock = threading.Lock()
        self._settings = settings
        self.num_styles = num_styles
        self.quit = threading.Event()
        self.fullscreen_requested = False
        self.paintings: list = []          # --style-dir files, cycled with , and .
        self._painting_pos = -1
        self._painting_request = 0         # only the newest request may set the style
        self._notice = ("", 0.0)
        self._digit = (None, 0.0)          # the first of two number keys typed quickly
        self.show_keys = False             # ? : the key list in the HUD
        self.keys_version = 0
        self.picker = None                 # the window's style grid (render.picker.StylePicker)
        self._last_index = 0 if is_painting_spec(settings.style) else int(style_weights(settings.style).argmax())

    @property
    def settings(self) -> Settings:
        with self._lock:
            return self._settings

    def _update(self, **changes) -> Settings:
        with self._lock:
            self._settings = replace(self._settings, version=self._settings.version + 1, **changes)
            return self._settings

    def current_index(self) -> int:
        """The style an arrow key steps from: the heaviest style of a blend (after a painting: the
        last built-in style)."""
        s = self.settings.style
        if is_painting_spec(s):
            return self._last_index
        return int(s) if isinstance(s, int) else int(style_weights(s, self.num_styles).argmax())

    def _pick(self, index: int) -> Settings:
        self._last_index = index % self.num_styles
        return self._update(style=self._last_index)

    def type_digit(self, digit: int, now: float = None) -> Settings:
        """A number key: style ``digit`` at once; a second digit within ``DIGIT_SECONDS`` makes a
        two-digit index when there is such a style (1 then 5: style 1, then 15), so every style is
        reachable from the keyboard."""
        now = time.monotonic() if now is None else now
        first, at = self._digit
        if first is not None and now - at < DIGIT_SECONDS and 0 < first * 10 + digit < self.num_styles:
            self._digit = (None, 0.0)
            return self._pick(first * 10 + digit)
        self._digit = (digit, now)
        return self._pick(digit)

    def toggle_keys(self) -> bool:
        """``?``: the key list in the HUD on/off."""
        self.show_keys = not self.show_keys
        self.keys_version += 1
        return self.show_keys

    def step_style(self, delta: int) -> Settings:
        return self._pick(self.current_index() + delta)

    def pick_style(self, index: int) -> Settings:
        return self._pick(index)

    # -- paintings (the arbitrary net) -----------------------------------------------------

    def request_painting(self, path) -> threading.Thread:
        """Use an image file as the style, read and encoded on a thread of its own (never the display
        thread). The current style stays until the new one is ready; a file that cannot be used
        leaves it and puts up a banner (``notice``). Only the newest request takes effect."""
        from .inference.styles import load_painting_style

        with self._lock:
            self._painting_request += 1
            ticket = self._painting_request

        def work():
            try:
                style = load_painting_style(str(path))
            except Exception as exc:  # an ArtemError for bad files; anything else is shown too
                self.notify(f"style not changed: {exc}")
                return
            with self._lock:
                newest = ticket == self._painting_request
                if newest:
                    self._notice = ("", 0.0)  # an older complaint no longer applies
            if newest:
                self._update(style=style)

        thread = threading.Thread(target=work, name="painting-style", daemon=True)
        thread.start()
        return thread

    def cycle_painting(self, delta: int):
        """The next/previous file of ``--style-dir`` as the style (a banner when there is none)."""
        if not self.paintings:
            self.notify("no paintings to cycle: start with --style-dir DIR")
            return None
        self._painting_pos = (self._painting_pos + delta) % len(self.paintings)
        return self.request_painting(self.paintings[self._painting_pos])

    def notify(self, text: str) -> None:
        with self._lock:
            self._notice = (" ".join(str(text).split()), time.monotonic())

    @property
    def notice(self):
        """The latest banner text for ``NOTICE_SECONDS``, else None."""
        with self._lock:
            text, at = self._notice
        return text if text and time.monotonic() - at < NOTICE_SECONDS else None

    def change_strength(self, delta: float) -> Settings:
        value = round(min(1.0, max(0.0, self.settings.strength + delta)), 2)
        return self._update(strength=value)

    def toggle_color(self) -> Settings:
        return self._update(preserve_color=not self.settings.preserve_color)

    def change_detail(self, delta: float) -> Settings:
        """More (D) or less (Shift+D) of the source's fine detail, clamped to 0..1; only the
        compositor uses it, so no frame is inferred again."""
        return self._update(detail=round(min(1.0, max(0.0, self.settings.detail + delta)), 2))

    def toggle_stabilize(self) -> Settings:
        return self._update(stabilize=not self.settings.stabilize)

    def toggle_hud(self) -> Settings:
        return self._update(hud=not self.settings.hud)
