#!/usr/bin/env bash
# A real OpenXR runtime for the tests: Monado with its simulated headset.
#
#   bash .ci/monado_env.sh ensure        make (or reuse) the root and its Python venv
#   bash .ci/monado_env.sh run CMD...    run CMD inside the root, in the repo (bound at /src)
#   bash .ci/monado_env.sh test [ARGS]   ensure, then run tests/openxr inside the root
#   bash .ci/monado_env.sh clean         unmount anything left bound and delete the root
#
# Where the distribution packages Monado (Debian 13 and later, Ubuntu 24.04 and later) nothing of this is
# needed: `apt install monado-service libopenxr1-monado`. Debian 12 has no Monado package and a Debian 12
# process cannot load Debian 13's runtime library (GLIBCXX_3.4.31), so on Debian 12 this script makes a
# Debian 13 root with debootstrap from the mirror this machine's apt sources already name, with Monado,
# Mesa (llvmpipe, lavapipe), Xvfb and a venv built from the host's own Python (its prefix is bound in
# read-only at the same path) holding the host's CPU torch and this project. The root lives outside the
# clone (ARTEM_VR_MONADO_ROOT, default /var/cache/artem-vr-monado) so a fresh clone on the same machine
# reuses it; everything bound into it is unbound on exit, failure included.
#
# If no root can be made (not root, no space, no debootstrap, no network) `test` prints one line
# "SKIP openxr tests: <reason>" and exits 0.
set -euo pipefail

ROOT=${ARTEM_VR_MONADO_ROOT:-/var/cache/artem-vr-monado}
REPO=$(cd "$(dirname "$0")/.." && pwd)
SUITE=trixie
VENV=/opt/artem-venv
PKGS="monado-service libopenxr1-monado mesa-vulkan-drivers libegl1 libgl1-mesa-dri libglx-mesa0 \
python3-venv xvfb xauth x11-utils libxcb-render0 libxcb-shm0 libxrandr2 libxi6 libxcursor1 libxinerama1 \
libxxf86vm1 libxkbcommon0 ca-certificates"
HOST_PY=${ARTEM_VR_HOST_PYTHON:-$(command -v python3 || command -v python)}
PREFIX=$("$HOST_PY" -c 'import sys; print(sys.base_prefix)')
MOUNTS=()

say() { echo "monado_env: $*" >&2; }

skip() {  # one line in the CI log, exit 0: the OpenXR tests could not run here
  echo "SKIP openxr tests: $*"
  exit 0
}

unbind_all() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" 2>/dev/null || say "could not unmount ${MOUNTS[$i]}"
  done
  MOUNTS=()
}
trap unbind_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bind() {  # bind SRC DST [ro]
  local src=$1 dst=$2
  if [ -d "$src" ]; then mkdir -p "$dst"; else mkdir -p "$(dirname "$dst")"; [ -e "$dst" ] || touch "$dst"; fi
  mount --bind "$src" "$dst"
  MOUNTS+=("$dst")
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$dst"; fi
}

still_bound() {  # any mount under $1?
  awk -v r="$1" '$2 == r || index($2, r "/") == 1 {found=1} END {exit !found}' /proc/mounts
}

host_mirror() {  # the Debian mirror the host's apt sources name for its own release (no host written here)
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  {
    # deb822 stanzas: URIs + Suites naming the host's release itself (not -security/-updates)
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      awk -v c="$codename" '
        /^[ \t]*$/ { if (u != "" && ok) print u; u = ""; ok = 0; next }
        tolower($1) == "uris:" { u = $2 }
        tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == c) ok = 1 }
        END { if (u != "" && ok) print u }' "$f" || true
    done
    # one-line sources: deb [opts] URI SUITE COMPONENTS
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -E 's/\[[^]]*\]//' | awk -v c="$codename" '$1 == "deb" && $3 == c { print $2 }'
  } | awk 'NR == 1' || true
}

copy_host_config() {  # pip's configuration and the CA bundle, so pip inside reaches the same wheel sources
  local f
  for f in /etc/pip.conf /etc/xdg/pip/pip.conf /etc/xdg/pip/constraints.txt "$HOME/.config/pip/pip.conf" \
           "$HOME/.pip/pip.conf" /etc/ssl/certs/ca-certificates.crt /etc/resolv.conf; do
    if [ -f "$f" ]; then mkdir -p "$ROOT$(dirname "$f")"; cp -L "$f" "$ROOT$f"; fi
  done
  # pip's config may name other files (a constraint file, a cert): copy those too
  "$HOST_PY" -m pip config list 2>/dev/null | sed -nE "s/^[^=]*\.(cert|constraint|requirement)='(.*)'$/\2/p" |
    while read -r f; do
      if [ -f "$f" ]; then mkdir -p "$ROOT$(dirname "$f")"; cp -L "$f" "$ROOT$f"; fi
    done
}

wheel_dirs() {  # local folders pip's config reads wheels from (find-links, file:// indexes)
  "$HOST_PY" -m pip config list 2>/dev/null | sed -nE "s/^[^=]*\.(find-links|index-url|extra-index-url)='(.*)'$/\2/p" |
    tr ' ' '\n' | sed -E 's#^file://##' | while read -r d; do
      [ -n "$d" ] || continue
      case "$d" in /*) ;; *) continue ;; esac
      # bind the top folder under / that holds it (a simple/ index links to ../files)
      d=$(echo "$d" | cut -d/ -f1-3)
      if [ -d "$d" ]; then echo "$d"; fi
    done | sort -u
  if [ -n "${PIP_FIND_LINKS:-}" ] && [ -d "$PIP_FIND_LINKS" ]; then echo "$PIP_FIND_LINKS"; fi
}

bind_system() {
  bind /proc "$ROOT/proc"
  bind /sys "$ROOT/sys" ro
  bind /dev "$ROOT/dev"
  bind /dev/pts "$ROOT/dev/pts"
  bind /dev/shm "$ROOT/dev/shm"
}

bind_python() {
  local d
  bind "$PREFIX" "$ROOT$PREFIX" ro
  for d in $(wheel_dirs); do bind "$d" "$ROOT$d" ro; done
}

in_root() {  # run a command inside the root with a plain environment (host PATH entries do not exist there)
  chroot "$ROOT" /usr/bin/env -i HOME=/root PATH="$VENV/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
    TERM=dumb PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt ${PIP_FIND_LINKS:+PIP_FIND_LINKS=$PIP_FIND_LINKS} \
    ${PIP_DEFAULT_TIMEOUT:+PIP_DEFAULT_TIMEOUT=$PIP_DEFAULT_TIMEOUT} \
    ARTEM_VR_MONADO_ROOT=1 "$@"
}

make_root() {
  [ "$(id -u)" = 0 ] || skip "making the Debian 13 root needs root (debootstrap, chroot, mount)"
  if ! command -v debootstrap >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null) ||
      skip "no debootstrap and apt could not install it"
  fi
  local parent avail mirror part="$ROOT.partial"
  parent=$(dirname "$ROOT"); mkdir -p "$parent"
  avail=$(df -Pk "$parent" | awk 'NR == 2 { print $4 }')
  [ "$avail" -ge 4000000 ] || skip "under 4 GB free in $parent for the Debian 13 root"
  mirror=$(host_mirror)
  [ -n "$mirror" ] || skip "no Debian mirror in this machine's apt sources"
  if [ -e "$part" ]; then
    still_bound "$part" && { say "$part still has mounts; not deleting it"; exit 1; }
    rm -rf "$part"
  fi
  say "debootstrap $SUITE from $mirror into $part (a few minutes)"
  debootstrap --variant=minbase "$SUITE" "$part" "$mirror" >"$parent/artem-vr-monado.debootstrap.log" 2>&1 ||
    skip "debootstrap $SUITE from $mirror failed (see $parent/artem-vr-monado.debootstrap.log)"
  local saved=$ROOT; ROOT=$part
  copy_host_config
  bind_system
  say "apt-get install Monado, Mesa, Xvfb inside"
  if ! in_root /bin/sh -c "DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PKGS" \
        >"$parent/artem-vr-monado.apt.log" 2>&1; then
    unbind_all; ROOT=$saved
    skip "apt-get inside the $SUITE root failed (see $parent/artem-vr-monado.apt.log)"
  fi
  in_root apt-get clean
  unbind_all
  ROOT=$saved
  touch "$part/.artem-vr-root-ok"
  mv "$part" "$ROOT"
}

make_venv() {  # the host's Python (same path, bound read-only) with torch and this project
  local stamp="$ROOT/opt/.artem-venv-prefix"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$PREFIX" ] && [ -x "$ROOT$VENV/bin/python" ]; then return 0; fi
  say "venv from $PREFIX inside the root with torch==2.13.0 (about a minute)"
  rm -rf "${ROOT:?}$VENV"
  in_root "$HOST_PY_IN" -m venv "$VENV"
  in_root /bin/bash -c "$VENV/bin/python -m pip install -q --upgrade pip && \
    $VENV/bin/python -m pip install -q 'torch==2.13.0' 2>&1 | { grep -v 'WARNING: Location' || true; }; \
    exit \\${PIPESTATUS[0]}"
  echo "$PREFIX" >"$stamp"
}

ensure() {
  if [ ! -f "$ROOT/.artem-vr-root-ok" ]; then make_root; fi
}

enter() {  # binds for a run; the caller's trap unbinds
  copy_host_config
  bind_system
  bind_python
  bind "$REPO" "$ROOT/src"
  HOST_PY_IN=$PREFIX/bin/python3
  make_venv
  # the project itself, editable from /src (quick when already installed)
  in_root /bin/bash -c "cd /src && $VENV/bin/python -m pip install -q -e '.[test]' 2>&1 | \
    { grep -v 'WARNING: Location' || true; }; exit \\${PIPESTATUS[0]}"
}

cmd=${1:-test}; shift || true
case "$cmd" in
  ensure)
    exec 9>"$ROOT.lock"; flock 9
    ensure; enter ;;
  run)
    exec 9>"$ROOT.lock"; flock 9
    [ -f "$ROOT/.artem-vr-root-ok" ] || { say "no root at $ROOT: run '$0 ensure' first"; exit 2; }
    enter
    in_root /bin/sh -c 'cd /src && exec "$@"' sh "$@" ;;
  test)
    if command -v monado-service >/dev/null 2>&1 ||
       { [ "$(id -u)" = 0 ] && apt-cache show monado-service >/dev/null 2>&1 &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -qq monado-service libopenxr1-monado xvfb >/dev/null; }; then
      cd "$REPO" && exec "$HOST_PY" -m pytest -q -p no:cacheprovider tests/openxr "$@"  # the distribution's Monado
    fi
    [ "$(id -u)" = 0 ] || skip "the Debian 13 root needs root (chroot, mount); or install Monado from your distribution"
    exec 9>"$ROOT.lock"; flock 9
    ensure; enter
    in_root /bin/sh -c 'cd /src && exec python -m pytest -q -p no:cacheprovider tests/openxr "$@"' sh "$@" ;;
  clean)
    exec 9>"$ROOT.lock"; flock 9
    for d in "$ROOT" "$ROOT.partial"; do
      if still_bound "$d"; then say "$d still has mounts; not deleting it"; exit 1; fi
      rm -rf "$d"
    done ;;
  *) echo "usage: $0 ensure|run CMD...|test [pytest args]|clean" >&2; exit 2 ;;
esac
