#!/usr/bin/env python3
"""Derives and checks the integer 1-D transforms of Kiln's int8 fast 3x3
convolutions (kernels/cpu/conv/int8_fast_conv.cpp): Winograd F(2,3) with G
scaled by 2, and SFC-6 (He et al., ICML 2024): a 6-point DFT computed
symbolically in Z[w] (w = exp(-i*pi/3), w^2 = w - 1) plus two correction
terms, 8 inputs -> 6 outputs per dimension.

Each algorithm is (BT, G, AT, s): for an input row x (n_in) and taps w (3),
  s * y = AT @ ((BT @ x) * (G @ w)),  y[i] = sum_j x[i + j] w[j]  (correlation).
2-D uses the Kronecker product of the 1-D algorithm (s^2 * Y = AT (U . V) A).
Prints the matrices as C++ initialisers and the L1 bounds the overflow proof uses."""
import itertools, random
import numpy as np

# Elements of Z[w] as (a, b) = a + b w; w^k for k = 0..5.
W_POW = [(1, 0), (0, 1), (-1, 1), (-1, 0), (0, -1), (1, -1)]

def winograd_f23():
    BT = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
    G = [[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]]   # 2 x the usual G
    AT = [[1, 1, 1, 0], [0, 1, -1, -1]]
    return np.array(BT), np.array(G), np.array(AT), 2

def sfc6():
    # Input x0..x7; the DFT runs on d[n] = x[n + 1], n = 0..5. The cyclic
    # correlation c[i] = sum_j d[(i + j) mod 6] w[j] is a cyclic convolution
    # of d with h = (w0, 0, 0, 0, w2, w1), so c = IDFT(DFT(d) DFT(h)).
    # Products per frequency: k = 0 and 3 are integers (1 product each);
    # k = 1, 2 are a + b w, multiplied with 3 products (Karatsuba):
    #   (a + b w)(c + d w) = (ac - bd) + ((a + b)(c + d) - ac) w.
    # Rows of BT / G: [D0, D3, A1, B1, A1+B1, A2, B2, A2+B2, corr0, corr5].
    BT, G = [], []
    def dft_rows(k, data_len, coeff):  # coefficients of A and B of X_k = sum v[n] w^(nk)
        A = [0] * data_len; B = [0] * data_len
        for n in range(6):
            a, b = W_POW[(n * k) % 6]
            idx = coeff(n)
            if idx is None: continue
            A[idx] += a; B[idx] += b
        return A, B
    din = lambda n: n + 1                 # d[n] = x[n + 1]
    hidx = {0: 0, 5: 1, 4: 2}             # h[m] = w[hidx[m]]
    hw = lambda m: hidx.get(m)
    for k in (0, 3):
        A, _ = dft_rows(k, 8, din); BT.append(A)
        A, _ = dft_rows(k, 3, hw); G.append(A)
    for k in (1, 2):
        A, B = dft_rows(k, 8, din); BT += [A, B, [p + q for p, q in zip(A, B)]]
        A, B = dft_rows(k, 3, hw); G += [A, B, [p + q for p, q in zip(A, B)]]
    # Corrections: z0 = c[5] + w0 (x0 - x6); z5 = c[4] + w2 (x7 - x1); z1..z4 = c[0..3].
    BT.append([1, 0, 0, 0, 0, 0, -1, 0]); G.append([1, 0, 0])
    BT.append([0, -1, 0, 0, 0, 0, 0, 1]); G.append([0, 0, 1])
    # Output: 6 c[i] = P0 + (-1)^i P3 + sum_{k=1,2} 2 Re(P_k w^(-ik)), P_k = r + s w
    # from the products p1 = ac, p2 = bd, p3 = (a+b)(c+d): r = p1 - p2, s = p3 - p1.
    # 2 Re(u + v w) = 2u + v. P w^(-ik) = P w^((6 - ik) mod 6).
    def mul(x, y):
        (a, b), (c, d) = x, y
        return (a * c - b * d, a * d + b * c + b * d)
    AT = []
    for z in range(6):
        i = (z - 1) % 6                   # output z comes from cyclic output i
        row = [0] * 10
        row[0] = 1; row[1] = (-1) ** i
        for blk, k in ((2, 1), (5, 2)):
            t = W_POW[(-i * k) % 6]
            # P t for P = r + s w: coefficients of r and s in 2 Re(.)
            cr = 2 * mul((1, 0), t)[0] + mul((1, 0), t)[1]
            cs = 2 * mul((0, 1), t)[0] + mul((0, 1), t)[1]
            # r = p1 - p2, s = p3 - p1
            row[blk] += cr - cs; row[blk + 1] += -cr; row[blk + 2] += cs
        if z == 0: row[8] = 6
        if z == 5: row[9] = 6
        AT.append(row)
    return np.array(BT), np.array(G), np.array(AT), 6

def check(name, alg, trials=2000):
    BT, G, AT, s = alg
    n_in, m = BT.shape[1], AT.shape[0]
    rng = random.Random(1)
    for _ in range(trials):
        x = np.array([rng.randint(-255, 255) for _ in range(n_in)])
        w = np.array([rng.randint(-255, 255) for _ in range(3)])
        y = np.array([sum(x[i + j] * w[j] for j in range(3)) for i in range(m)])
        assert (AT @ ((BT @ x) * (G @ w)) == s * y).all(), name
    # 2-D on random tiles.
    for _ in range(200):
        X = np.array([[rng.randint(-255, 255) for _ in range(n_in)] for _ in range(n_in)])
        Wt = np.array([[rng.randint(-255, 255) for _ in range(3)] for _ in range(3)])
        Y = np.array([[sum(X[i + a, j + b] * Wt[a, b] for a in range(3) for b in range(3)) for j in range(m)] for i in range(m)])
        U = BT @ X @ BT.T; V = G @ Wt @ G.T
        assert (AT @ (U * V) @ AT.T == s * s * Y).all(), name
    bt1 = np.abs(BT).sum(1).max(); g1 = np.abs(G).sum(1).max(); at1 = np.abs(AT).sum(1).max()
    print(f"// {name}: {BT.shape[0]} terms, {n_in} in, {m} out, scale {s}; "
          f"max row L1 BT {bt1} G {g1} AT {at1}; 2-D |U| <= {bt1**2}*255, |V| <= {g1**2}*255, "
          f"products/output {BT.shape[0]**2 / m**2:.3f} (direct 9)")
    for nm, M in (("bt", BT), ("g", G), ("at", AT)):
        print(f"  {nm}: " + ", ".join("{" + ", ".join(str(v) for v in r) + "}" for r in M.tolist()))

check("winograd F(2,3)", winograd_f23())
check("sfc6", sfc6())
