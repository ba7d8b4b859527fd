# Session 20 (with bench/wip/session20-gemm-bwd.patch; delete once it lands). Run: python3 THIS (needs numpy).
# Emulates bnbq_k_gemm_mma_nn's data movement (bench/wip/session20-gemm-mma-nn.patch) with the PTX ISA's
# m16n8k16 fragment layouts, in float64, and compares with X @ W.
import numpy as np
rng = np.random.default_rng(1)
NW, NU = 8, 4
def halves(u):  # uint2 of 4 halves -> (x: h0,h1), (y: h2,h3)
    return (u[0], u[1]), (u[2], u[3])
def byte_perm_pair(a, b, sel):  # a, b: (lo, hi) half pairs; sel 0x5410 -> (a.lo, b.lo); 0x7632 -> (a.hi, b.hi)
    return (a[0], b[0]) if sel == 0x5410 else (a[1], b[1])
def mma(c, A_regs, B_regs):
    # A_regs[lane] = (a0, a1, a2, a3) each (lo, hi); B_regs[lane] = (b0, b1)
    A = np.zeros((16, 16)); B = np.zeros((16, 8))
    for lane in range(32):
        g, q = lane >> 2, lane & 3
        a0, a1, a2, a3 = A_regs[lane]
        A[g, 2*q], A[g, 2*q+1] = a0
        A[g+8, 2*q], A[g+8, 2*q+1] = a1
        A[g, 2*q+8], A[g, 2*q+9] = a2
        A[g+8, 2*q+8], A[g+8, 2*q+9] = a3
        b0, b1 = B_regs[lane]
        B[2*q, g], B[2*q+1, g] = b0
        B[2*q+8, g], B[2*q+9, g] = b1
    D = A @ B
    for lane in range(32):
        g, q = lane >> 2, lane & 3
        c[lane][0] += D[g, 2*q]; c[lane][1] += D[g, 2*q+1]
        c[lane][2] += D[g+8, 2*q]; c[lane][3] += D[g+8, 2*q+1]
def run(M, N, K, bias, acc):
    X = rng.standard_normal((M, K)); W = rng.standard_normal((K, N)); out0 = rng.standard_normal((M, N))
    b = rng.standard_normal(N)
    out = out0.copy()
    steps = K // 16
    for n0 in range(0, N, 32):
        red = np.zeros((NW, 16, 33))
        for w in range(NW):
            c = [[[0.0]*4 for _ in range(4)] for _ in range(32)]  # c[lane][i][4]
            s0 = w
            while s0 < steps:
                for u in range(NU):
                    st = s0 + u*NW
                    inn = st < steps
                    A_regs = []; B_by_i = [[None]*32 for _ in range(4)]
                    for lane in range(32):
                        g, q = lane >> 2, lane & 3
                        nc = n0 + 4*g; cin = nc < N
                        k = st*16 + 4*q
                        wr = [[W[k+j, nc+t] if (inn and cin) else 0.0 for t in range(4)] for j in range(4)]
                        x0 = [X[g, k+t] if (inn and g < M) else 0.0 for t in range(4)]
                        x1 = [X[g+8, k+t] if (inn and g+8 < M) else 0.0 for t in range(4)]
                        A_regs.append(((x0[0], x0[1]), (x1[0], x1[1]), (x0[2], x0[3]), (x1[2], x1[3])))
                        for i in range(4):
                            sel = 0x7632 if i & 1 else 0x5410
                            hw = [halves(wr[j])[0] if i < 2 else halves(wr[j])[1] for j in range(4)]
                            B_by_i[i][lane] = (byte_perm_pair(hw[0], hw[1], sel), byte_perm_pair(hw[2], hw[3], sel))
                    for i in range(4):
                        ci = [c[l][i] for l in range(32)]
                        mma(ci, A_regs, B_by_i[i])
                s0 += NW*NU
            for lane in range(32):
                g, q = lane >> 2, lane & 3
                for i in range(4):
                    red[w, g, 8*q+i] = c[lane][i][0]; red[w, g, 8*q+4+i] = c[lane][i][1]
                    red[w, g+8, 8*q+i] = c[lane][i][2]; red[w, g+8, 8*q+4+i] = c[lane][i][3]
        for o in range(512):
            m, nl = o >> 5, o & 31; n = n0 + nl
            if m < M and n < N:
                v = sum(red[k, m, nl] for k in range(NW))
                if bias: v += b[n]
                if acc: v += out[m, n]
                out[m, n] = v
    ref = X @ W + (b if bias else 0) + (out0 if acc else 0)
    err = np.abs(out - ref).max()
    print(f"M={M} N={N} K={K} bias={bias} acc={acc}: max |err| {err:.2e}")
    assert err < 1e-9
for (M, N, K, bias, acc) in [(1, 132, 512, 1, 0), (9, 132, 512, 0, 1), (16, 100, 48, 1, 1), (3, 36, 16, 0, 0), (16, 64, 2064, 1, 0)]:
    run(M, N, K, bias, acc)
print("ok")
