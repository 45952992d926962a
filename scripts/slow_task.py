#!/usr/bin/env python3
"""Sample script of the demo: works for --seconds, one progress line a second, so a
module's timeout can be seen to end it."""
import argparse
import time


def main():
    parser = argparse.ArgumentParser(description="Work for a while")
    parser.add_argument("--seconds", type=int, default=30, help="how long to work")
    args = parser.parse_args()
    for second in range(1, args.seconds + 1):
        time.sleep(1)
        print("working: %d of %d s" % (second, args.seconds), flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
