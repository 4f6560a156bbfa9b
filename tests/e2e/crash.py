#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Crash consistency of hypercache: SIGKILL qemu-storage-daemon, check the image.

  crash.py [--trials N] [--seed S] [--dir DIR] [--max-batches N] [--selftest]
           [--rbd CONF:POOL/IMAGE]

Each trial starts qemu-storage-daemon with a hypercache node (random size,
block size, mode, policy, watermarks and max-dirty-age) over a raw image,
exported over NBD on a unix socket, and drives it with the small NBD client
below: pipelined batches of 4 KiB-granular writes (some FUA), reads checked
against what was acknowledged, and flushes.  Every 4 KiB block written
carries a header (magic, block number, version) and a body derived from
them, so a torn, misplaced or garbage block is recognisable.

QEMU is killed with SIGKILL at a moment chosen per trial, after a number
of write batches drawn from the seed (not after a time, so a slow machine
does the same work before the kill as a fast one) and once WB holds dirty
data (in write-back mode; the trial waits for that, up to 60 s):
  flush-pending   0-4 ms after a flush was sent, while its reply has not
                  come (a flush answered first is taken as completed, and
                  the trial writes and tries again);
  flush-done      right after a flush reply arrived;
  background      in the middle of a batch, after a random number of its
                  replies, mostly with small watermarks and ages so that
                  background write-back is running.
The daemon dying before the kill is a failure, not part of the exercise.
Then the image file itself is checked, block by block:
  - a block whose last write was acknowledged before a completed flush (or
    by a FUA write) holds that version or a later-issued one, byte for byte;
  - every other block holds its version at the last completed flush, or any
    version issued after it: old or new data, never anything else.
The next trial restarts the daemon on the same image and first reads the
whole disk through a fresh hypercache node: it must equal the file.

With --rbd, the disk is that rbd image (created here, cache.direct=on on
the rbd node, so librbd's cache is off) instead of a file, and it is read
back for the check with `rbd export`, through librbd alone.

Prints the seed of every trial: `crash.py --trials 1 --seed S` replays one
(timing differs, the operations up to the kill do not).  Exit 0 on
success, 1 on a violation (the image is kept for inspection).
"""
import argparse
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import QMP  # noqa: E402

BS = 4096
DISK = 32 * 1024 * 1024
NBLK = DISK // BS
MAGIC = b'HCCRASH1'
HDR = struct.Struct('<8sQQQ')   # magic, block, version, check


def block_data(blk, ver):
    body = random.Random((blk << 40) ^ ver ^ 0x5eed).randbytes(BS - HDR.size)
    return HDR.pack(MAGIC, blk, ver, (blk * 31 + ver) & 0xffffffffffffffff) \
        + body


def decode(buf, blk):
    """Version held by a 4 KiB block: 0 for zeroes, None for garbage."""
    if buf == bytes(BS):
        return 0
    magic, b, ver, chk = HDR.unpack_from(buf)
    if magic != MAGIC or b != blk or chk != (blk * 31 + ver) & \
            0xffffffffffffffff:
        return None
    return ver if buf == block_data(blk, ver) else None


class NBDClient:
    """Just enough NBD (fixed newstyle, NBD_OPT_EXPORT_NAME, simple replies)."""
    REQ = struct.Struct('>IHHQQI')
    REP = struct.Struct('>IIQ')

    def __init__(self, path, name='hc'):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(30)
        self.s.connect(path)
        hello = self._recv(18)
        assert hello[:16] == b'NBDMAGICIHAVEOPT', hello
        self.s.sendall(struct.pack('>I', 3))  # FIXED_NEWSTYLE | NO_ZEROES
        n = name.encode()
        self.s.sendall(b'IHAVEOPT' + struct.pack('>II', 1, len(n)) + n)
        self.size, self.flags = struct.unpack('>QH', self._recv(10))
        self.handle = 0
        self.pending = {}

    def _recv(self, n):
        buf = bytearray()
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError('NBD server went away')
            buf += chunk
        return bytes(buf)

    def send(self, cmd, off=0, length=0, data=b'', flags=0):
        self.handle += 1
        self.s.sendall(self.REQ.pack(0x25609513, flags, cmd, self.handle, off,
                                     length) + data)
        self.pending[self.handle] = (cmd, length)
        return self.handle

    def reply(self):
        """(handle, error, data) of the next reply, in any order."""
        magic, err, h = self.REP.unpack(self._recv(16))
        assert magic == 0x67446698, hex(magic)
        cmd, length = self.pending.pop(h)
        data = self._recv(length) if cmd == 0 and err == 0 else b''
        return h, err, data

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Violation(Exception):
    pass


def read_image(args, img):
    """The whole disk as stored: the file, or the rbd image read by the
    rbd tool (librbd alone, no QEMU)."""
    if not args.rbd:
        with open(img, 'rb') as f:
            return f.read()
    conf, pool, image = args.rbd
    r = subprocess.run(['rbd', '--conf', conf, 'export', f'{pool}/{image}',
                        '-'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       check=False, timeout=300)
    if r.returncode != 0 or len(r.stdout) != DISK:
        raise Violation(f'rbd export {pool}/{image} failed (exit '
                        f'{r.returncode}, {len(r.stdout)} bytes): '
                        f'{r.stderr.decode(errors="replace")[-2000:]}')
    return r.stdout


def rbd_arg(text):
    conf, _, rest = text.partition(':')
    pool, _, image = rest.partition('/')
    if not (conf and pool and image):
        raise argparse.ArgumentTypeError('expected CONF:POOL/IMAGE')
    return conf, pool, image


# How long a trial goes on writing for the state its kill needs (dirty
# data in WB) before it gives up and fails.
CONDITION_TIMEOUT = 60.0
# Flushes a flush-pending trial sends before giving up on killing one.
FLUSH_ATTEMPTS = 20


class Trial:
    def __init__(self, args, idx, seed, img, vstate):
        self.args = args
        self.idx = idx
        self.rng = random.Random(seed)
        self.seed = seed
        self.img = img
        # vstate[blk]: (stable, later): the version made durable by the last
        # completed flush/FUA, and the versions issued since.
        self.vstate = vstate
        self.acked = {}          # blk -> newest acknowledged version
        self.next_ver = (idx + 1) << 32
        self.dirty_seen = 0
        self.dirty_at_kill = 0
        self.flushes = 0
        self.writes = 0
        self.killed = False
        self.at_kill = ''       # what was in flight when the kill landed

    def config(self):
        r = self.rng
        bs = r.choice([4096, 4096, 16384, 65536])
        opts = {
            'size': r.choice([1, 2, 4, 16]) << 20,
            'block-size': bs,
            'mode': r.choice(['writeback'] * 6 + ['writethrough',
                                                  'writearound']),
            'policy': r.choice(['freq', 'lru', 's3fifo']),
            'admit-threshold': r.choice([1, 1, 2]),
        }
        self.kind = r.choice(['flush-pending', 'flush-done', 'background'])
        if self.args.selftest:
            self.kind = 'background'
            opts['mode'] = 'writeback'
        if self.kind == 'background' and not self.args.selftest and \
                r.random() < 0.75:
            high = r.choice([5, 10, 25, 50])
            opts.update({'dirty-high': high, 'dirty-low': high // 2,
                         'max-dirty-age': r.choice([0, 2, 10, 50])})
        else:
            opts.update({'dirty-high': 100, 'dirty-low': 99,
                         'dirty-max': 100,
                         'max-dirty-age': r.choice([0, 0, 200])})
        return opts

    def start(self, opts):
        d = self.args.dir
        self.sock = os.path.join(d, 'nbd.sock')
        self.qmp_path = os.path.join(d, 'qmp.sock')
        for p in (self.sock, self.qmp_path):
            if os.path.exists(p):
                os.unlink(p)
        hc = ','.join(f'{k}={v}' for k, v in opts.items())
        if self.args.rbd:
            conf, pool, image = self.args.rbd
            child = (f'driver=rbd,node-name=file0,pool={pool},image={image},'
                     f'conf={conf},cache.direct=on')
        else:
            child = f'driver=file,node-name=file0,filename={self.img}'
        cmd = [os.environ['QSD'],
               '--blockdev', child,
               '--blockdev', f'driver=hypercache,node-name=hc0,file=file0,{hc}',
               '--nbd-server', f'addr.type=unix,addr.path={self.sock}',
               '--export', 'type=nbd,id=exp0,node-name=hc0,name=hc,writable=on',
               '--chardev', f'socket,id=m0,path={self.qmp_path},server=on,wait=off',
               '--monitor', 'chardev=m0']
        self.log = open(os.path.join(d, 'qsd.log'), 'w')
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        t0 = time.monotonic()
        while not (os.path.exists(self.sock) and os.path.exists(self.qmp_path)):
            if self.proc.poll() is not None or time.monotonic() - t0 > 60:
                raise RuntimeError('qemu-storage-daemon did not start within '
                                   '60 s: ' + open(self.log.name).read())
            time.sleep(0.01)
        self.nbd = NBDClient(self.sock)
        self.qmp = QMP(self.qmp_path)
        assert self.nbd.size == DISK, self.nbd.size

    def kill(self):
        self.killed = True
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def check_restart_read(self):
        """The whole disk through a fresh node equals the file."""
        disk = read_image(self.args, self.img)
        chunk = 1 << 20
        for off in range(0, DISK, chunk):
            self.nbd.send(0, off, chunk)
        got = {}
        for _ in range(DISK // chunk):
            h, err, data = self.nbd.reply()
            if err:
                raise Violation(f'read after restart failed: errno {err}')
            got[h] = data
        data = b''.join(got[h] for h in sorted(got))
        if data != disk:
            bad = next(i for i in range(0, DISK, BS)
                       if data[i:i + BS] != disk[i:i + BS])
            raise Violation(f'read through a fresh hypercache differs from '
                            f'the image at {bad}')
        return DISK

    def issue_write(self, blk, n, fua):
        data = b''
        vers = []
        for b in range(blk, blk + n):
            v = self.next_ver
            self.next_ver += 1
            vers.append(v)
            self.vstate[b][1].add(v)
            data += block_data(b, v)
        h = self.nbd.send(1, blk * BS, n * BS, data, flags=1 if fua else 0)
        return h, ('w', blk, vers, fua)

    def stats(self):
        return self.qmp.cmd('x-hypercache-query',
                            {'node-name': 'hc0'})[0]['stats']

    def kill_state_ready(self):
        """True once the kill would find what the trial is about: dirty
        data in WB (write-back mode; other modes keep none)."""
        if self.opts['mode'] != 'writeback':
            return True
        self.dirty_at_kill = self.stats()['dirty-bytes']
        self.dirty_seen = max(self.dirty_seen, self.dirty_at_kill)
        return self.dirty_at_kill > 0

    def batch(self, hot, kill_frac=None):
        """One batch of writes and reads; with kill_frac, SIGKILL the daemon
        once that share of its replies has arrived (at least one request
        still in flight)."""
        r = self.rng
        reqs = {}
        used = set()
        for _ in range(r.randint(1, 16)):
            n = r.choice([1, 1, 1, 2, 4, 16])
            if r.random() < 0.7:
                blk = hot + r.randrange(1024 - n)
            else:
                blk = r.randrange(NBLK - n)
            if used & set(range(blk, blk + n)):
                continue
            used |= set(range(blk, blk + n))
            h, what = self.issue_write(blk, n, r.random() < 0.05)
            reqs[h] = what
        # Reads of acknowledged blocks not being written now.
        for _ in range(r.randint(0, 4)):
            cand = [b for b in (hot + r.randrange(1024),
                                r.randrange(NBLK))
                    if b not in used]
            for b in cand:
                h = self.nbd.send(0, b * BS, BS)
                reqs[h] = ('r', b, None, False)
        verified = 0
        kill_after = None
        if kill_frac is not None:
            kill_after = int(kill_frac * len(reqs))
        while reqs:
            if kill_after is not None and kill_after <= 0:
                self.at_kill = f'{len(reqs)} requests in flight'
                self.kill()
                return verified
            h, err, data = self.nbd.reply()
            if kill_after is not None:
                kill_after -= 1
            kind, blk, vers, fua = reqs.pop(h)
            if err:
                raise Violation(f'request failed: errno {err}')
            if kind == 'w':
                self.writes += 1
                for b, v in zip(range(blk, blk + len(vers)), vers):
                    self.acked[b] = v
                    if fua:
                        self.vstate[b] = [v, set()]
            else:
                want = self.acked.get(blk, self.vstate[blk][0])
                got = decode(data, blk)
                verified += BS
                if got != want and not (want == 0 and got == 0):
                    raise Violation(
                        f'read of block {blk} returned version {got},'
                        f' expected {want} (newest acknowledged)')
        return verified

    def flush(self):
        self.nbd.send(3)
        h, err, _ = self.nbd.reply()
        if err:
            raise Violation(f'flush failed: errno {err}')
        self.flush_completed()

    def kill_in_flush(self, hot, delay):
        """SIGKILL while a flush is out and unanswered."""
        for attempt in range(FLUSH_ATTEMPTS):
            self.nbd.send(3)
            time.sleep(delay if attempt == 0 else 0)
            if not select.select([self.nbd.s], [], [], 0)[0]:
                self.kill()
                # A reply sent before the daemon died is still readable:
                # then the flush completed, and its data must be there.
                try:
                    h, err, _ = self.nbd.reply()
                except (ConnectionError, OSError):
                    self.at_kill = f'flush pending (attempt {attempt + 1})'
                    return 0
                if not err:
                    self.flush_completed()
                self.at_kill = 'flush answered just before the kill'
                return 0
            # Answered before the kill could land: completed; write more
            # so that the next flush has work, and try again at once.
            h, err, _ = self.nbd.reply()
            if err:
                raise Violation(f'flush failed: errno {err}')
            self.flush_completed()
            self.batch(hot)
        raise Violation(f'{FLUSH_ATTEMPTS} flushes were all answered before '
                        f'the kill could land: nothing was killed mid-flush')

    def run(self):
        r = self.rng
        opts = self.opts = self.config()
        self.start(opts)
        verified = self.check_restart_read()
        # Where the kill lands, all drawn now: the operations before it
        # then depend on the seed alone.
        kill_batch = r.randint(1, self.args.max_batches)
        kill_frac = r.random()     # share of the last batch's replies
        delay = r.uniform(0, 0.004)
        hot = r.randrange(NBLK - 1024)      # a hot region, plus anywhere
        batches = 0
        waited = None
        try:
            while not self.killed:
                if batches >= kill_batch:
                    if self.kill_state_ready():
                        if self.kind == 'flush-pending':
                            verified += self.kill_in_flush(hot, delay)
                        elif self.kind == 'flush-done':
                            self.flush()
                            self.at_kill = 'right after a flush reply'
                            self.kill()
                        else:
                            verified += self.batch(hot, kill_frac=kill_frac)
                        break
                    if waited is None:
                        waited = time.monotonic()
                    elif time.monotonic() - waited > CONDITION_TIMEOUT:
                        raise Violation(
                            f'WB held no dirty data after {batches} batches '
                            f'and {CONDITION_TIMEOUT:.0f} s more of writes: '
                            f'the kill would test nothing')
                verified += self.batch(hot)
                batches += 1
                if self.args.selftest:
                    # Pretend a flush completed without sending one: the
                    # check must then find acknowledged data missing.
                    self.flush_completed()
                if r.random() < 0.15:
                    self.flush()
                if batches % 8 == 0:
                    self.dirty_seen = max(self.dirty_seen,
                                          self.stats()['dirty-bytes'])
        except (ConnectionError, OSError) as e:
            if not self.killed:
                raise Violation(f'qemu-storage-daemon went away before the '
                                f'kill ({e}); its log: '
                                f'{open(self.log.name).read()[-2000:]}')
        finally:
            self.kill()
            self.nbd.close()
            self.qmp.sock.close()
            self.log.close()
        self.batches = batches
        return opts, verified + self.check_image()

    def flush_completed(self):
        self.flushes += 1
        for b, v in self.acked.items():
            st = self.vstate[b]
            # Durable now: the last acknowledged version.  Later-issued
            # versions are still allowed (acknowledged after this flush's
            # reply or not at all).
            st[0] = v
            st[1] = {x for x in st[1] if x > v}
        self.acked = {}

    def check_image(self):
        disk = read_image(self.args, self.img)
        self.lost = 0
        for b in range(NBLK):
            got = decode(disk[b * BS:(b + 1) * BS], b)
            stable, later = self.vstate[b]
            if got is None:
                raise Violation(f'block {b} holds garbage (neither a version '
                                f'written nor zeroes)')
            if got != stable and got not in later:
                raise Violation(f'block {b} holds version {got}; allowed: '
                                f'{stable} (flushed) or {sorted(later)}')
            if b in self.acked and got < self.acked[b]:
                # Acknowledged, not flushed, and older data there (not a
                # newer version that was still in flight at the kill).
                self.lost += 1
            self.vstate[b] = [got, set()]
        return DISK


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--trials', type=int, default=20)
    ap.add_argument('--seed', type=int, default=None)
    ap.add_argument('--dir', default=None)
    ap.add_argument('--max-batches', type=int, default=40,
                    help='most write batches before the kill')
    ap.add_argument('--selftest', action='store_true',
                    help='treat every write as flushed without flushing: '
                    'must FAIL (proves the check can see lost data)')
    ap.add_argument('--rbd', type=rbd_arg, default=None,
                    help='CONF:POOL/IMAGE: the disk is this rbd image '
                    '(created here, removed on success)')
    args = ap.parse_args()
    base = args.seed if args.seed is not None else \
        random.SystemRandom().randrange(1 << 31)
    own = args.dir is None
    if own:
        args.dir = tempfile.mkdtemp(prefix='hc-crash.')
    img = os.path.join(args.dir, 'crash.raw')
    if args.rbd:
        conf, pool, image = args.rbd
        subprocess.run(['rbd', '--conf', conf, 'rm', f'{pool}/{image}'],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        # Without exclusive-lock: after a SIGKILL, the next daemon would
        # wait for the dead owner's watch to time out (30 s) per trial.
        subprocess.run(['rbd', '--conf', conf, 'create', '--size',
                        f'{DISK >> 20}M', '--image-feature', 'layering',
                        f'{pool}/{image}'], check=True)
        img = f'rbd:{pool}/{image}'
    else:
        with open(img, 'wb') as f:
            f.truncate(DISK)
    vstate = [[0, set()] for _ in range(NBLK)]
    totals = dict(bytes=0, writes=0, flushes=0, lost=0, dirty=0, pending=0,
                  flush_pending_trials=0)
    t0 = time.time()
    print(f'crash: {args.trials} trials, base seed {base}, image {img}')
    for i in range(args.trials):
        seed = base + i
        t = Trial(args, i, seed, img, vstate)
        try:
            opts, nbytes = t.run()
        except Violation as e:
            print(f'FAIL: trial {i} seed {seed} ({t.kind}): {e}')
            print(f'  replay: {sys.argv[0]} --trials 1 --seed {seed} '
                  f'(image kept in {args.dir})')
            return 1
        totals['bytes'] += nbytes
        totals['writes'] += t.writes
        totals['flushes'] += t.flushes
        totals['lost'] += t.lost
        totals['dirty'] += t.dirty_seen > 0
        if t.kind == 'flush-pending':
            totals['flush_pending_trials'] += 1
            totals['pending'] += t.at_kill.startswith('flush pending')
        print(f'trial {i:4d} seed {seed} {t.kind:13s} {opts["mode"]:12s} '
              f'bs={opts["block-size"]:<5d} size={opts["size"] >> 20}M '
              f'{opts["policy"]:6s} batches={t.batches} writes={t.writes} '
              f'flushes={t.flushes} dirty-before-kill={t.dirty_at_kill >> 10}K '
              f'({t.at_kill}) unflushed-lost={t.lost} ok',
              flush=True)
    dt = time.time() - t0
    print(f'crash: {args.trials} trials in {dt:.0f}s, '
          f'{totals["writes"]} write requests, {totals["flushes"]} flushes, '
          f'{totals["bytes"] / 2**20:.0f} MiB verified, '
          f'{totals["lost"]} acknowledged-but-unflushed blocks were old data '
          f'(allowed), WB held dirty data in {totals["dirty"]} trials, '
          f'{totals["pending"]} of {totals["flush_pending_trials"]} '
          f'flush-pending kills landed before the reply')
    # The test means nothing if the cache never held dirty data.
    if args.trials >= 10 and totals['dirty'] == 0:
        print('FAIL: hypercache never held dirty data: nothing was tested')
        return 1
    if own:
        import shutil
        shutil.rmtree(args.dir)
    print('PASS: crash consistency')
    return 0


if __name__ == '__main__':
    sys.exit(main())
