/*
 * frameless.h: the C API of the frameless inference engine (libframeless_ffi.a).
 *
 * Hand-written; scripts/check-ffi-header.sh checks every function here against
 * the symbols the library exports, and the frameless-ffi tests check every
 * FRAMELESS_* code and the struct sizes against the Rust definitions.
 *
 * No allocation: the caller owns the model handle, the blob (borrowed, e.g.
 * straight from flash, any alignment), the scratch and the outputs.
 *
 *     static frameless_model model;            // zeroed, as statics are
 *     static float scratch[SCRATCH_WORDS];     // >= frameless_scratch_bytes()
 *     frameless_prediction p;
 *     int rc = frameless_load(&model, blob, blob_len);
 *     if (rc == FRAMELESS_OK)
 *         rc = frameless_predict_sparse(&model, node, idx, val, nnz,
 *                                       scratch, sizeof scratch, &p);
 *     if (rc != FRAMELESS_OK) puts(frameless_error_name(rc));
 *     else use(p.class_id, p.logits, p.n_logits, p.gates, p.n_gates);
 *
 * Every function returns FRAMELESS_OK (0) or a positive FRAMELESS_E_* code
 * and writes no output on an error. NULL pointers, short buffers and
 * misaligned pointers are reported, never dereferenced. Pre-quantised int8
 * input features are not in this version (they arrive with the engine's
 * entry point for them, issue 13): int8 models take float features.
 */
#ifndef FRAMELESS_H
#define FRAMELESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes (frameless_error_name(code) returns the macro's name). */
#define FRAMELESS_OK 0
#define FRAMELESS_E_NULL_POINTER 1                 /* a required pointer is NULL */
#define FRAMELESS_E_MISALIGNED 2                   /* scratch, float or uint32_t array not 4-byte aligned */
#define FRAMELESS_E_SCRATCH_TOO_SMALL 3            /* scratch_bytes < frameless_scratch_bytes() */
#define FRAMELESS_E_NOT_LOADED 4                   /* handle not filled by frameless_load */
#define FRAMELESS_E_TOO_LONG 5                     /* a length overflows the address space */
#define FRAMELESS_E_BAD_MAGIC 6                    /* blob does not start with FGKD */
#define FRAMELESS_E_UNSUPPORTED_VERSION 7          /* blob format version not supported */
#define FRAMELESS_E_TRUNCATED 8                    /* blob_len shorter than the blob */
#define FRAMELESS_E_MALFORMED 9                    /* a part of the blob cannot be decoded */
#define FRAMELESS_E_TRAILING_BYTES 10              /* blob_len longer than the blob */
#define FRAMELESS_E_CHECKSUM_MISMATCH 11           /* body SHA-256 differs from the header's */
#define FRAMELESS_E_HEADER_MISMATCH 12             /* body's kind/precision/dims differ from the header */
#define FRAMELESS_E_INVALID_DIMS 13                /* dims inconsistent with the model kind */
#define FRAMELESS_E_SHAPE_MISMATCH 14              /* a tensor length does not match the dims */
#define FRAMELESS_E_BAD_VALUE 15                   /* a NaN/inf weight, table, bias or scale, an int8 -128 */
#define FRAMELESS_E_BAD_METADATA 16                /* inconsistent metadata */
#define FRAMELESS_E_NODE_OUT_OF_RANGE 17           /* node >= n_nodes */
#define FRAMELESS_E_FEATURE_LENGTH 18              /* dense n_features differs from the model's */
#define FRAMELESS_E_FEATURE_INDEX_OUT_OF_RANGE 19  /* a sparse index >= n_features */
#define FRAMELESS_E_UNSORTED_INDICES 20            /* sparse indices not strictly increasing */
#define FRAMELESS_E_NON_FINITE_FEATURE 21          /* a feature value is NaN or infinite */
#define FRAMELESS_E_OTHER 22                       /* an engine error without a code of its own */
#define FRAMELESS_E_OVERFLOW 23                    /* a non-finite value computed in predict */
#define FRAMELESS_E_NOT_INT8 24                    /* an integer-only call on a float model */
#define FRAMELESS_E_NODE_NOT_KEPT 25               /* a sliced blob (id map) does not keep this node */

/* A loaded model. Opaque: zero it before the first frameless_load (statics
 * are); the blob it was loaded from must outlive it, unchanged. */
typedef struct frameless_model {
    uint32_t tag;
    uint32_t reserved;
    uint64_t storage[96];
} frameless_model;

/* The model's dimensions. */
typedef struct frameless_dims {
    uint32_t n_nodes;    /* valid node ids: 0 .. n_nodes - 1 */
    uint32_t n_features; /* length of a dense feature vector */
    uint32_t hidden;
    uint32_t n_classes;  /* number of logits */
    uint32_t n_bands;    /* number of gates (0 for an mlp) */
    uint32_t n_stages;
} frameless_dims;

/* One prediction; logits and gates point into the scratch given to predict
 * and stay valid until that scratch is reused. */
typedef struct frameless_prediction {
    uint32_t class_id;   /* argmax of the logits, first maximum on ties */
    uint32_t n_logits;
    uint32_t n_gates;
    const float *logits;
    const float *gates;
} frameless_prediction;

/* An integer-only answer: logits in units of the logit scale
 * (frameless_int8_scales), gates in Q15 (32768 is 1.0); both point into the
 * scratch, valid until it is reused. */
typedef struct frameless_int_prediction {
    uint32_t class_id;   /* argmax of the logits, first maximum on ties */
    uint32_t n_logits;
    uint32_t n_gates;
    const int32_t *logits;
    const int32_t *gates;
} frameless_int_prediction;

/* Validates the blob_len bytes at blob (any alignment; borrowed, not copied)
 * and fills *model. */
int32_t frameless_load(frameless_model *model, const uint8_t *blob, size_t blob_len);

/* *dims = the model's dimensions. */
int32_t frameless_model_dims(const frameless_model *model, frameless_dims *dims);

/* *bytes = the scratch predict needs, in bytes (the scratch must be 4-byte aligned). */
int32_t frameless_scratch_bytes(const frameless_model *model, size_t *bytes);

/* Classifies node from all n_features values (must equal the model's). */
int32_t frameless_predict_dense(const frameless_model *model, uint32_t node,
                                const float *features, size_t n_features,
                                void *scratch, size_t scratch_bytes,
                                frameless_prediction *out);

/* Classifies node from its nnz non-zero features: strictly increasing
 * indices (< n_features) and their values. */
int32_t frameless_predict_sparse(const frameless_model *model, uint32_t node,
                                 const uint32_t *indices, const float *values, size_t nnz,
                                 void *scratch, size_t scratch_bytes,
                                 frameless_prediction *out);

/* int8 models: a feature is quantised as round(x / *input_scale) (to -128..127),
 * a logit is value * *logit_scale. */
int32_t frameless_int8_scales(const frameless_model *model, float *input_scale,
                              float *logit_scale);

/* Classifies node from its nnz non-zero features quantised with the input
 * scale, in integer arithmetic only (no float instruction runs). */
int32_t frameless_predict_int8_sparse(const frameless_model *model, uint32_t node,
                                      const uint32_t *indices, const int8_t *values,
                                      size_t nnz, void *scratch, size_t scratch_bytes,
                                      frameless_int_prediction *out);

/* The name of a status code ("FRAMELESS_E_SCRATCH_TOO_SMALL", ...), static;
 * "FRAMELESS_E_UNKNOWN" for an undefined code. Never NULL. */
const char *frameless_error_name(int32_t code);

#ifdef __cplusplus
}
#endif

#endif /* FRAMELESS_H */
