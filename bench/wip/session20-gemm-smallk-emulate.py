# Session 20 (with bench/wip/session20-gemm-bwd.patch; delete once it lands). Run: python3 THIS (needs numpy).
# Replays bnbq_k_gemm_smallk's loads, prmt pairing and m16n8k16 fragment layouts in float64.
import numpy as np
rng = np.random.default_rng(2)
KW = 4
def word(u, i): return (u[0], u[1]) if i < 2 else (u[2], u[3])
def perm(a, b, i): return (a[i & 1], b[i & 1])   # low half: row a's element, high: row b's
def mma(Ar, Br):
    A = np.zeros((16, 16)); B = np.zeros((16, 8))
    for lane in range(32):
        g, q = lane >> 2, lane & 3
        a0, a1, a2, a3 = Ar[lane]
        A[g, 2*q:2*q+2] = a0; A[g+8, 2*q:2*q+2] = a1; A[g, 2*q+8:2*q+10] = a2; A[g+8, 2*q+8:2*q+10] = a3
        b0, b1 = Br[lane]
        B[2*q:2*q+2, g] = b0; B[2*q+8:2*q+10, g] = b1
    D = A @ B
    return [(D[l>>2, 2*(l&3)], D[l>>2, 2*(l&3)+1], D[(l>>2)+8, 2*(l&3)], D[(l>>2)+8, 2*(l&3)+1]) for l in range(32)]
def run(M, N, K, bias, acc):
    G = rng.standard_normal((K, M)); X = rng.standard_normal((K, N)); o0 = rng.standard_normal((M, N)); b = rng.standard_normal(N)
    out = o0.copy()
    tm, tn = (M + 63)//64, (N + 32*KW - 1)//(32*KW)
    def ld(Mat, k, c, lim):  # 4 elements or zeros
        return tuple(Mat[k, c+t] for t in range(4)) if (k < K and c < lim) else (0.0,)*4
    for t in range(tm*tn):
        for w in range(KW):
            m0 = (t // tn)*64; n0 = (t % tn)*(32*KW) + 32*w
            sh = np.zeros((64, 33))
            lanes = []
            for lane in range(32):
                g, q = lane >> 2, lane & 3
                ma, mb, nc = m0 + 4*g, m0 + 32 + 4*g, n0 + 4*g
                ks = [2*q, 2*q+1, 2*q+8, 2*q+9]
                ga = [ld(G, k, ma, M) for k in ks]; gb = [ld(G, k, mb, M) for k in ks]; xb = [ld(X, k, nc, N) for k in ks]
                lanes.append((ga, gb, xb))
            for i in range(4):
                Ar = []
                for lane in range(32):
                    ga, gb, xb = lanes[lane]
                    Ar.append((perm(word(ga[0], i), word(ga[1], i), i), perm(word(gb[0], i), word(gb[1], i), i),
                               perm(word(ga[2], i), word(ga[3], i), i), perm(word(gb[2], i), word(gb[3], i), i)))
                for j in range(4):
                    Br = []
                    for lane in range(32):
                        ga, gb, xb = lanes[lane]
                        Br.append((perm(word(xb[0], j), word(xb[1], j), j), perm(word(xb[2], j), word(xb[3], j), j)))
                    C = mma(Ar, Br)
                    for lane in range(32):
                        g, q = lane >> 2, lane & 3
                        sh[4*g+i, 8*q+j] = C[lane][0]; sh[4*g+i, 8*q+4+j] = C[lane][1]
                        sh[32+4*g+i, 8*q+j] = C[lane][2]; sh[32+4*g+i, 8*q+4+j] = C[lane][3]
            for o in range(256):
                rl, pc = o >> 2, o & 3
                m, n = m0 + rl, n0 + 8*pc
                if m < M and n < N:
                    for e in range(8):
                        v = sh[rl, 8*pc+e]
                        if bias: v += b[n+e]
                        if acc: v += out[m, n+e]
                        out[m, n+e] = v
    ref = G.T @ X + (b if bias else 0) + (o0 if acc else 0)
    err = np.abs(out - ref).max()
    print(f"M={M} N={N} K={K} bias={bias} acc={acc}: max |err| {err:.2e}"); assert err < 1e-9
for args in [(64, 128, 16, 1, 0), (68, 136, 1, 0, 1), (132, 264, 7, 1, 1), (4, 8, 16, 0, 0), (128, 256, 9, 0, 0)]:
    run(*args)
print("ok")
