import sys, time
for i in range(1, 200001):
    if i % 1000 == 0:
        sys.stdout.flush()
        sys.stderr.write("line %06d\n" % i)
        sys.stderr.flush()
    else:
        sys.stdout.write("line %06d\n" % i)
    if i % 20000 == 0:
        sys.stdout.flush()
        time.sleep(0.5)
