"""Load each file given on the command line as a model or an image; print JSON per file with the
error line, the time taken and the growth of peak RSS (a fresh process, so the numbers are ours)."""
import json
import resource
import sys
import time

from artem_vr.errors import ArtemError
from artem_vr.images import read_image
from artem_vr.inference.weights import load_generator


def main() -> None:
    import PIL.Image  # noqa: F401 - import costs are not the loader's
    import safetensors.torch  # noqa: F401

    for kind_path in sys.argv[1:]:
        kind, path = kind_path.split("=", 1)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        try:
            (load_generator if kind == "model" else read_image)(path)
            error = None
        except ArtemError as exc:
            error = str(exc)
        elapsed = time.perf_counter() - t0
        grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(json.dumps({"path": path, "error": error, "ms": round(elapsed * 1000, 1), "rss_growth_mb": round(grown, 1)}))


if __name__ == "__main__":
    main()
