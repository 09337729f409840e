"""sfc32, bit for bit the engine's Rng (engine/src/rng.ts).

Batches are drawn from this stream exactly as the TypeScript trainer draws them, so both engines
see the same token windows step for step, and a checkpoint's four state words resume either engine.
"""

M32 = 0xFFFFFFFF
TWO32 = 1 << 32


class Rng:
    def __init__(self, seed):
        # splitmix32 spreads the seed over the four words (as rng.ts)
        s = seed & M32

        def mix():
            nonlocal s
            s = (s + 0x9E3779B9) & M32
            z = s
            z = ((z ^ (z >> 16)) * 0x21F0AAAD) & M32
            z = ((z ^ (z >> 15)) * 0x735A2D97) & M32
            return (z ^ (z >> 15)) & M32

        self.a, self.b, self.c, self.d = mix(), mix(), mix(), mix()
        for _ in range(12):
            self.uint32()

    def uint32(self):
        a, b, c, d = self.a, self.b, self.c, self.d
        t = (a + b + d) & M32
        self.d = (d + 1) & M32
        self.a = b ^ (b >> 9)
        c2 = ((c << 21) | (c >> 11)) & M32
        self.b = (c + (c << 3)) & M32
        self.c = (c2 + t) & M32
        return t

    def int(self, n):
        """Uniform integer in [0, n), unbiased (rejection of the top partial block), as rng.ts."""
        if not (1 <= n <= TWO32):
            raise ValueError(f"Rng.int: n must be in [1, 2^32], got {n}")
        limit = TWO32 - (TWO32 % n)
        u = self.uint32()
        while u >= limit:
            u = self.uint32()
        return u % n

    def state(self):
        return [self.a, self.b, self.c, self.d]

    @staticmethod
    def from_state(s):
        if not (isinstance(s, list) and len(s) == 4 and all(isinstance(w, int) and 0 <= w < TWO32 for w in s)):
            raise ValueError(f"Rng state must be 4 integers in [0, 2^32), got {s!r}")
        r = Rng(0)
        r.a, r.b, r.c, r.d = s
        return r
