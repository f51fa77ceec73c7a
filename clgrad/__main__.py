"""``python -m clgrad info [--recheck]``: every OpenCL platform and device, what the driver claims,
what the device self-check verified (and what it excluded, and why), and what clgrad uses."""
import sys

from . import command_line


def _widths(result):
    """Lines of the widest verified vector per storage type and operation class."""
    from .runtime.selfcheck import KINDS
    lines = []
    for kind, (_, _, _, classes) in KINDS.items():
        got = result.widths.get(kind)
        if not got:
            continue
        parts = [f"{c} {max(got.get(c) or [0])}" for c in classes]
        lines.append(f"      {kind + ':':7} " + ", ".join(parts))
    return lines


def _selfcheck(dev, out, recheck):
    from .runtime import program_cache
    result = dev.recheck() if recheck else dev.selfcheck
    if not result.checked:
        print(f"    self-check: {result.note}", file=out)
        return
    n = sum(len(ws) for cls in result.widths.values() for ws in cls.values())
    print(f"    self-check of {result.created} ({result.seconds:.1f} s): "
          f"{len(result.excluded)} of {n + len(result.excluded)} probes excluded; "
          f"double precision {'verified' if result.fp64 else 'not usable'}, work-groups up to "
          f"{result.max_wg}, local memory {result.local_mem} B", file=out)
    print("    widest verified vectors (the runtime takes at most the preferred width):",
          file=out)
    for line in _widths(result):
        print(line, file=out)
    for name, why in result.excluded:
        print(f"    excluded {name}: {why.splitlines()[0]}", file=out)
    rejected = program_cache.rejected_programs(dev)
    if rejected:
        print(f"    {rejected} kernel program(s) rejected on this device (their families run "
              "their plain variants; --recheck forgets them)", file=out)


def info(out=sys.stdout, recheck=False):
    import pyopencl as cl

    from .runtime import all_devices, choose_default, hostshared
    try:
        default = choose_default()
    except Exception as e:  # noqa: BLE001  (report, do not fail)
        default = None
        print(f"default device: none ({e})", file=out)
    devices = all_devices()
    if not devices:
        command_line.report("clgrad", "no OpenCL platforms or devices found: install an OpenCL "
                                      "driver, or PoCL for the CPU")
        return command_line.EXIT_FAILURE
    for pi, plat in enumerate(cl.get_platforms()):
        print(f"platform {pi}: {plat.name.strip()} ({plat.version.strip()})", file=out)
        for dev in (d for d in devices if d.platform_index == pi):
            c = dev.claims
            mark = "  <- default" if dev is default else ""
            sim = " [simulator: never chosen by default]" if dev.is_simulator else ""
            print(f"  device {pi}:{dev.device_index}  {dev}  {c.name}{mark}{sim}", file=out)
            print(f"    type {c.kind}, {c.compute_units} compute units, driver {c.driver_version},"
                  f" {c.opencl_c_version}", file=out)
            caps = dev.caps
            print(f"    float64 {'yes' if caps.fp64 else 'no (float64 arrays raise)'}, float16 "
                  f"{'native' if caps.fp16 else 'storage only (float32 arithmetic)'}", file=out)
            print(f"    max work-group {caps.max_wg}, local memory {caps.local_mem} B usable, "
                  f"global memory {caps.global_mem >> 20} MiB, max allocation "
                  f"{caps.max_alloc >> 20} MiB", file=out)
            print(f"    preferred vector width float/double/int: {c.pref_vec_float}/"
                  f"{c.pref_vec_double}/{c.pref_vec_int} (claimed)", file=out)
            if caps.kind == "cpu":
                print(f"    host-shared buffers ({hostshared.MIN_BYTES >> 20} MiB and more): "
                      f"{_host_shared(dev)}", file=out)
            _selfcheck(dev, out, recheck)
    return 0


def _host_shared(dev):
    if dev.host_shared:
        return "yes (fine-grained SVM, checked)"
    if dev.is_simulator:
        return "no (a simulator)"
    if not dev.claims.fine_svm:
        return "no (the driver claims no fine-grained SVM)"
    if not dev.caps.fine_svm:
        return "no (svm=0 in CLGRAD_DEVICE_LIMITS)"
    return "no (the driver's fine-grained SVM failed clgrad's check)"


def main(argv=None):
    parser = command_line.ArgumentParser(prog="python -m clgrad")
    parser.add_argument("command", nargs="?", default="info", choices=["info"])
    parser.add_argument("--recheck", action="store_true",
                        help="run the device self-check again (and forget rejected kernels)")
    args = parser.parse_args(argv)
    return command_line.run_main("clgrad", info, recheck=args.recheck)


if __name__ == "__main__":
    sys.exit(main())
