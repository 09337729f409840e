"""`python -m ldtorch.launch [torchrun options] -m ldtorch.train --job JOB`: torchrun, mended.

torch 1.13's torchrun cannot start on Python 3.11: Std.from_str("0") (the default of --redirects
and --tee) iterates an IntFlag, which on 3.11 no longer yields the zero member, so it returns None
and to_map fails ("'NoneType' object has no attribute 'get'"). Here from_str is wrapped to map
that case to Std.NONE; where torch has fixed it, the wrapper changes nothing.
"""
import sys


def _mend():
    try:
        from torch.distributed.elastic.multiprocessing import api
    except ImportError:
        return
    original = api.Std.from_str
    if original("0") is not None:
        return  # this torch is not affected

    def from_str(vm):
        out = original(vm)
        if out is None:
            return api.Std(int(vm))
        if isinstance(out, dict):
            return {k: (api.Std(0) if v is None else v) for k, v in out.items()}
        return out

    api.Std.from_str = staticmethod(from_str)


def main():
    _mend()
    from torch.distributed.run import main as torchrun
    torchrun(sys.argv[1:])


if __name__ == "__main__":
    main()
