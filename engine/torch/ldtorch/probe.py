"""`python -m ldtorch.probe`: one JSON line saying what this Python offers the torch backend."""
import json
import platform
import sys


def main():
    out = {"python": sys.executable, "pythonVersion": platform.python_version()}
    try:
        import torch
    except Exception as e:  # noqa: BLE001 — any import failure means: no usable torch
        out.update(torch=None, error=f"{type(e).__name__}: {e}")
        print(json.dumps(out))
        return
    mps = getattr(torch.backends, "mps", None)
    out.update(
        torch=torch.__version__,
        cuda=bool(torch.cuda.is_available()),
        cudaDevices=[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else [],
        mps=bool(mps is not None and mps.is_available()),
        distributed=bool(torch.distributed.is_available()),
        compile=hasattr(torch, "compile"),
        threads=torch.get_num_threads(),
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
