/* gemm_avx2.c — a float32 matrix product for CPUs with AVX2 and FMA, for when OpenBLAS runs a
   generic kernel there: Debian's OpenBLAS 0.3.21 does not recognise recent CPUs and falls back
   to its SSE3 "Prescott" kernel, far slower than the CPU allows. Lunet never changes the user's
   OPENBLAS_CORETYPE, but its own products need not pay for it: on such a machine gemm1
   (ops_linalg.c) comes here. Elsewhere OpenBLAS is the faster and this is not used.

   The classic structure (Goto, BLIS), small: for each depth block of KC, MC rows of A are packed
   in panels of MR rows and B in panels of 16 columns, and an MRx16 micro-kernel keeps its tile
   of C in registers across the panel's depth: 6 rows in 12 AVX2 registers, or, where the CPU
   has AVX-512, 8 rows in 8 of its registers (twice the multiply-adds an instruction). Edges go
   through a zero-padded tile. Any strides: the packing reads them. 90 KB of stack, nothing
   allocated. */
#include "nn_impl.h"

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define MR 6       /* rows of the AVX2 tile */
#define MR5 8      /* rows of the AVX-512 tile */
#define NR 16
#define KC 256
#define MC 72      /* rows of A packed at a time (a multiple of MR and MR5): a layer of 64 at once */
#define TARGET __attribute__((target("avx2,fma")))
#define TARGET5 __attribute__((target("avx512f,avx2,fma")))

bool nn_sgemm_avx2_usable(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* c[0..MR)[0..NR) (row stride ldc) = (load ? c : 0) + ap · bp over kb steps. The tile is twelve
   named registers (GCC can leave an array of __m256 in memory, storing it every step), in one
   function for each value of load. */
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define DECL(i) __m256 c##i##0, c##i##1;
#define INIT_LOAD(i) c##i##0 = _mm256_loadu_ps(c + i * ldc); c##i##1 = _mm256_loadu_ps(c + i * ldc + 8);
#define INIT_ZERO(i) c##i##0 = _mm256_setzero_ps(); c##i##1 = _mm256_setzero_ps();
#define STEP(i) { __m256 a = _mm256_broadcast_ss(ap + i);                                        \
                  c##i##0 = _mm256_fmadd_ps(a, b0, c##i##0); c##i##1 = _mm256_fmadd_ps(a, b1, c##i##1); }
#define STORE(i) _mm256_storeu_ps(c + i * ldc, c##i##0); _mm256_storeu_ps(c + i * ldc + 8, c##i##1);
#define KERNEL(NAME, INIT)                                                                       \
  TARGET static void NAME(int64_t kb, const float *ap, const float *bp, float *c, int64_t ldc) { \
    ROWS(DECL)                                                                                   \
    ROWS(INIT)                                                                                   \
    for (int64_t k = 0; k < kb; k++, ap += MR, bp += NR) {                                       \
      __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);                               \
      ROWS(STEP)                                                                                 \
    }                                                                                            \
    ROWS(STORE)                                                                                  \
  }
KERNEL(kernel_load, INIT_LOAD)
KERNEL(kernel_zero, INIT_ZERO)

/* The same for MR5 rows, one AVX-512 register a row (A's value broadcast from memory by the
   multiply-add itself) */
#define ROWS5(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define DECL5(i) __m512 c##i;
#define INIT5_LOAD(i) c##i = _mm512_loadu_ps(c + i * ldc);
#define INIT5_ZERO(i) c##i = _mm512_setzero_ps();
#define STEP5(i) c##i = _mm512_fmadd_ps(_mm512_set1_ps(ap[i]), b0, c##i);
#define STORE5(i) _mm512_storeu_ps(c + i * ldc, c##i);
#define KERNEL5(NAME, INIT)                                                                       \
  TARGET5 static void NAME(int64_t kb, const float *ap, const float *bp, float *c, int64_t ldc) { \
    ROWS5(DECL5)                                                                                  \
    ROWS5(INIT)                                                                                   \
    for (int64_t k = 0; k < kb; k++, ap += MR5, bp += NR) {                                       \
      __m512 b0 = _mm512_load_ps(bp);                                                             \
      ROWS5(STEP5)                                                                                \
    }                                                                                             \
    ROWS5(STORE5)                                                                                 \
  }
KERNEL5(kernel5_load, INIT5_LOAD)
KERNEL5(kernel5_zero, INIT5_ZERO)

static bool avx512(void) { return __builtin_cpu_supports("avx512f"); }

static void kernel(int64_t kb, const float *ap, const float *bp, float *c, int64_t ldc, bool load,
                   bool wide) {
  if (wide) (load ? kernel5_load : kernel5_zero)(kb, ap, bp, c, ldc);
  else (load ? kernel_load : kernel_zero)(kb, ap, bp, c, ldc);
}

/* B's rows k0..k0+kb, columns j0..j0+nb, into a panel of NR columns (zeros past nb) */
TARGET static void pack_b(float *bp, const float *b, int64_t brs, int64_t bcs, int64_t k0, int64_t kb,
                          int64_t j0, int64_t nb) {
  if (bcs == 1 && nb == NR) {             /* rows contiguous: two loads a row */
    for (int64_t k = 0; k < kb; k++) {
      const float *r = b + (k0 + k) * brs + j0;
      _mm256_store_ps(bp + k * NR, _mm256_loadu_ps(r));
      _mm256_store_ps(bp + k * NR + 8, _mm256_loadu_ps(r + 8));
    }
    return;
  }
  if (brs == 1 && nb == NR) {             /* columns contiguous (B = X^T): 8x8 transposes */
    nn_transpose_avx2(NR, kb, b + j0 * bcs + k0, bcs, bp, NR);
    return;
  }
  for (int64_t k = 0; k < kb; k++)
    for (int64_t j = 0; j < NR; j++)
      bp[k * NR + j] = j < nb ? b[(k0 + k) * brs + (j0 + j) * bcs] : 0.0f;
}

/* A's rows m0..m0+mb (mb <= mr), depth k0..k0+kb, into a panel of mr rows (zeros past mb) */
static void pack_a(float *ap, int64_t mr, const float *a, int64_t ars, int64_t acs, int64_t m0,
                   int64_t mb, int64_t k0, int64_t kb) {
  if (mb == mr && ars == 1) {             /* columns contiguous: mr floats a step */
    for (int64_t k = 0; k < kb; k++)
      memcpy(ap + k * mr, a + m0 + (k0 + k) * acs, (size_t)mr * sizeof *ap);
    return;
  }
  if (mb == mr && acs == 1 && mr % 8 == 0) {   /* rows contiguous: 8x8 transposes */
    nn_transpose_avx2(mr, kb, a + m0 * ars + k0, ars, ap, mr);
    return;
  }
  if (mb == mr) {
    for (int64_t i = 0; i < mr; i++) {
      const float *r = a + (m0 + i) * ars + k0 * acs;
      for (int64_t k = 0; k < kb; k++) ap[k * mr + i] = r[k * acs];
    }
    return;
  }
  for (int64_t k = 0; k < kb; k++)
    for (int64_t i = 0; i < mr; i++)
      ap[k * mr + i] = i < mb ? a[(m0 + i) * ars + (k0 + k) * acs] : 0.0f;
}

void nn_sgemm_avx2(int64_t M, int64_t N, int64_t K, const float *a, int64_t ars, int64_t acs,
                   const float *b, int64_t brs, int64_t bcs, float *c, int64_t ldc, float beta) {
  _Alignas(64) float bp[KC * NR];          /* 16 KB: one panel of B */
  _Alignas(64) float ap[MC * KC];          /* 72 KB: MC rows of A, in panels of mr */
  _Alignas(64) float tile[MR5 * NR];
  bool wide = avx512();
  int64_t mr = wide ? MR5 : MR;
  if (beta != 0 && beta != 1)             /* (Lunet's products use 0 and 1) */
    for (int64_t i = 0; i < M; i++)
      for (int64_t j = 0; j < N; j++) c[i * ldc + j] *= beta;
  /* the depth in equal blocks of at most KC (K = 288 as 144 + 144, not 256 + 32: a short
     block loads and stores C's tiles for few multiply-adds) */
  int64_t kblocks = (K + KC - 1) / KC, kstep = kblocks ? (K + kblocks - 1) / kblocks : KC;
  for (int64_t k0 = 0; k0 < K; k0 += kstep) {
    int64_t kb = K - k0 < kstep ? K - k0 : kstep;
    bool load = k0 > 0 || beta != 0;      /* the first panel of depth overwrites when beta is 0 */
    for (int64_t m0 = 0; m0 < M; m0 += MC) {
      int64_t mc = M - m0 < MC ? M - m0 : MC;
      for (int64_t p0 = 0; p0 < mc; p0 += mr)       /* A's rows m0.., packed once per depth */
        pack_a(ap + p0 * kb, mr, a, ars, acs, m0 + p0, mc - p0 < mr ? mc - p0 : mr, k0, kb);
      for (int64_t j0 = 0; j0 < N; j0 += NR) {
        int64_t nb = N - j0 < NR ? N - j0 : NR;
        pack_b(bp, b, brs, bcs, k0, kb, j0, nb);
        for (int64_t p0 = 0; p0 < mc; p0 += mr) {
          int64_t mb = mc - p0 < mr ? mc - p0 : mr;
          float *ct = c + (m0 + p0) * ldc + j0;
          if (mb == mr && nb == NR) {
            kernel(kb, ap + p0 * kb, bp, ct, ldc, load, wide);
          } else {                        /* an edge: through a padded tile */
            for (int64_t i = 0; i < mr; i++)
              for (int64_t j = 0; j < NR; j++)
                tile[i * NR + j] = load && i < mb && j < nb ? ct[i * ldc + j] : 0.0f;
            kernel(kb, ap + p0 * kb, bp, tile, NR, true, wide);
            for (int64_t i = 0; i < mb; i++)
              for (int64_t j = 0; j < nb; j++) ct[i * ldc + j] = tile[i * NR + j];
          }
        }
      }
    }
  }
}

/* c[0..N) = beta c + a · B for one row a (K long, elements acs apart), B [K, N] with any
   strides: a layer on one sample. With B's rows contiguous it is a sum of rows of B (8 columns
   a vector); with its columns contiguous (B = W^T, a Linear's weight) N dot products. (For one
   row OpenBLAS's generic kernel would go through gemv, no better than its gemm there.) */
TARGET void nn_sgemv_avx2(int64_t N, int64_t K, const float *a, int64_t acs, const float *b,
                          int64_t brs, int64_t bcs, float *c, float beta) {
  if (beta == 0) memset(c, 0, (size_t)N * sizeof *c);
  else if (beta != 1) for (int64_t j = 0; j < N; j++) c[j] *= beta;
  if (bcs == 1) {                                   /* c += a[k] B[k, :] */
    for (int64_t k = 0; k < K; k++) {
      __m256 ak = _mm256_set1_ps(a[k * acs]);
      const float *bk = b + k * brs;
      int64_t j = 0;
      for (; j + 8 <= N; j += 8)
        _mm256_storeu_ps(c + j, _mm256_fmadd_ps(ak, _mm256_loadu_ps(bk + j), _mm256_loadu_ps(c + j)));
      for (; j < N; j++) c[j] += a[k * acs] * bk[j];
    }
  } else if (brs == 1 && acs == 1) {                /* c[j] += a · B[:, j] */
    for (int64_t j = 0; j < N; j++) {
      const float *bj = b + j * bcs;
      __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
      int64_t k = 0;
      for (; k + 16 <= K; k += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(bj + k), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(bj + k + 8), s1);
      }
      for (; k + 8 <= K; k += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(bj + k), s0);
      s0 = _mm256_add_ps(s0, s1);
      __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
      h = _mm_add_ps(h, _mm_movehl_ps(h, h));
      h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
      float sum = _mm_cvtss_f32(h);
      for (; k < K; k++) sum += a[k] * bj[k];
      c[j] += sum;
    }
  } else {
    for (int64_t j = 0; j < N; j++) {
      float sum = 0;
      for (int64_t k = 0; k < K; k++) sum += a[k * acs] * b[k * brs + j * bcs];
      c[j] += sum;
    }
  }
}

/* dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols: a float32 matrix transposed, in
   8x8 tiles of registers (a plain loop moves one element a cycle, and strides through dst) */
TARGET void nn_transpose_avx2(int64_t rows, int64_t cols, const float *src, int64_t lds, float *dst,
                              int64_t ldd) {
  int64_t r8 = rows & ~(int64_t)7, c8 = cols & ~(int64_t)7;
  for (int64_t r = 0; r < r8; r += 8)
    for (int64_t c = 0; c < c8; c += 8) {
      const float *s = src + r * lds + c;
      __m256 t0, t1, t2, t3, t4, t5, t6, t7, u0, u1, u2, u3, u4, u5, u6, u7;
      /* rows r, r+4 in the two halves of one register: the 128-bit crossing done by the loads */
      u0 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(s + 0 * lds)), _mm_loadu_ps(s + 4 * lds), 1);
      u1 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(s + 1 * lds)), _mm_loadu_ps(s + 5 * lds), 1);
      u2 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(s + 2 * lds)), _mm_loadu_ps(s + 6 * lds), 1);
      u3 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(s + 3 * lds)), _mm_loadu_ps(s + 7 * lds), 1);
      u4 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(s + 0 * lds + 4)), _mm_loadu_ps(s + 4 * lds + 4), 1);
      u5 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(s + 1 * lds + 4)), _mm_loadu_ps(s + 5 * lds + 4), 1);
      u6 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(s + 2 * lds + 4)), _mm_loadu_ps(s + 6 * lds + 4), 1);
      u7 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(s + 3 * lds + 4)), _mm_loadu_ps(s + 7 * lds + 4), 1);
      t0 = _mm256_unpacklo_ps(u0, u1); t1 = _mm256_unpackhi_ps(u0, u1);
      t2 = _mm256_unpacklo_ps(u2, u3); t3 = _mm256_unpackhi_ps(u2, u3);
      t4 = _mm256_unpacklo_ps(u4, u5); t5 = _mm256_unpackhi_ps(u4, u5);
      t6 = _mm256_unpacklo_ps(u6, u7); t7 = _mm256_unpackhi_ps(u6, u7);
      float *d = dst + c * ldd + r;
      _mm256_storeu_ps(d + 0 * ldd, _mm256_shuffle_ps(t0, t2, 0x44));
      _mm256_storeu_ps(d + 1 * ldd, _mm256_shuffle_ps(t0, t2, 0xEE));
      _mm256_storeu_ps(d + 2 * ldd, _mm256_shuffle_ps(t1, t3, 0x44));
      _mm256_storeu_ps(d + 3 * ldd, _mm256_shuffle_ps(t1, t3, 0xEE));
      _mm256_storeu_ps(d + 4 * ldd, _mm256_shuffle_ps(t4, t6, 0x44));
      _mm256_storeu_ps(d + 5 * ldd, _mm256_shuffle_ps(t4, t6, 0xEE));
      _mm256_storeu_ps(d + 6 * ldd, _mm256_shuffle_ps(t5, t7, 0x44));
      _mm256_storeu_ps(d + 7 * ldd, _mm256_shuffle_ps(t5, t7, 0xEE));
    }
  for (int64_t r = 0; r < rows; r++)           /* the edges */
    for (int64_t c = r < r8 ? c8 : 0; c < cols; c++) dst[c * ldd + r] = src[r * lds + c];
}

#else   /* not x86: never called, as usable() says */

bool nn_sgemm_avx2_usable(void) { return false; }
void nn_sgemm_avx2(int64_t M, int64_t N, int64_t K, const float *a, int64_t ars, int64_t acs,
                   const float *b, int64_t brs, int64_t bcs, float *c, int64_t ldc, float beta) {
  (void)M; (void)N; (void)K; (void)a; (void)ars; (void)acs; (void)b; (void)brs; (void)bcs;
  (void)c; (void)ldc; (void)beta;
}
void nn_sgemv_avx2(int64_t N, int64_t K, const float *a, int64_t acs, const float *b,
                   int64_t brs, int64_t bcs, float *c, float beta) {
  (void)N; (void)K; (void)a; (void)acs; (void)b; (void)brs; (void)bcs; (void)c; (void)beta;
}
void nn_transpose_avx2(int64_t rows, int64_t cols, const float *src, int64_t lds, float *dst,
                       int64_t ldd) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) dst[c * ldd + r] = src[r * lds + c];
}

#endif
