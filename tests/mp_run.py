"""Runs test modules' ``test_*`` functions on the MicroPython VM, where pytest does not exist.

Usage: micropython tests/mp_run.py tests.core.test_port [more modules]
Prints one line per failure and a closing 'N passed, N failed' line; exit 1 on any failure.
"""

import sys


def run(names):
    passed = 0
    failed = 0
    for name in names:
        module = __import__(name, None, None, ["*"])
        for attr in sorted(dir(module)):
            if not attr.startswith("test_"):
                continue
            try:
                getattr(module, attr)()
                passed += 1
            except Exception as error:  # noqa: BLE001 - report every failure, keep going
                failed += 1
                print("FAIL %s.%s: %r" % (name, attr, error))
                sys.print_exception(error)
    print("micropython: %d passed, %d failed" % (passed, failed))
    return failed


sys.exit(1 if run(sys.argv[1:]) else 0)
