"""``python -m clgrad info``: every OpenCL platform and device, and what clgrad uses on each."""
import argparse
import sys


def info(out=sys.stdout):
    import pyopencl as cl

    from .runtime import all_devices, choose_default
    from .runtime.caps import read_caps
    try:
        default = choose_default()
    except Exception as e:  # noqa: BLE001  (report, do not fail)
        default = None
        print(f"default device: none ({e})", file=out)
    devices = all_devices()
    if not devices:
        print("no OpenCL platforms or devices found", file=out)
        return 1
    for pi, plat in enumerate(cl.get_platforms()):
        print(f"platform {pi}: {plat.name.strip()} ({plat.version.strip()})", file=out)
        for dev in (d for d in devices if d.platform_index == pi):
            c = read_caps(dev.cl_device)
            mark = "  <- default" if dev is default else ""
            sim = " [simulator: never chosen by default]" if dev.is_simulator else ""
            print(f"  device {pi}:{dev.device_index}  {dev}  {c.name}{mark}{sim}", file=out)
            print(f"    type {c.kind}, {c.compute_units} compute units, driver {c.driver_version},"
                  f" {c.opencl_c_version}", file=out)
            print(f"    float64 {'yes' if c.fp64 else 'no (float64 arrays raise)'}, float16 "
                  f"{'native' if c.fp16 else 'storage only (float32 arithmetic)'}", file=out)
            print(f"    max work-group {c.max_wg}, local memory {c.local_mem} B usable, "
                  f"global memory {c.global_mem >> 20} MiB, max allocation "
                  f"{c.max_alloc >> 20} MiB", file=out)
            print(f"    preferred vector width float/double/int: {c.pref_vec_float}/"
                  f"{c.pref_vec_double}/{c.pref_vec_int}", file=out)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m clgrad")
    parser.add_argument("command", nargs="?", default="info", choices=["info"])
    parser.parse_args(argv)
    return info()


if __name__ == "__main__":
    sys.exit(main())
