// Fast PNG writer, without libpng or zlib's deflate: one row filter, then a deflate stream of
// literals and distance-1 runs (the only matches zlib's Z_RLE strategy looks for; here only
// runs that fill an 8-byte word) coded with one dynamic Huffman table built for this image. The idea is fpng's and fpnge's: on photos most of zlib's
// time goes into searching for matches that barely exist, and PNG's filters already turn
// smooth areas into small residuals a per-image Huffman table codes well.
//
// No setjmp here: nothing in this file longjmps; errors are status codes (stn_png.h).
#include "stn_png.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>  // adler32 and crc32 only

// MARK: - Row filters (PNG specification, section 9)

/// The Paeth predictor exactly as the specification writes it: the neighbour (left a, up b,
/// up-left c) closest to a + b - c, ties going to a, then b.
static inline uint8_t paeth_predictor_naive(int a, int b, int c) {
  int p = a + b - c;
  int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
  if (pa <= pb && pa <= pc) return (uint8_t)a;
  if (pb <= pc) return (uint8_t)b;
  return (uint8_t)c;
}

void stn_png_paeth_filter_row_naive(uint8_t *out, const uint8_t *row, const uint8_t *previous,
                                    size_t count, int bytes_per_pixel) {
  for (size_t i = 0; i < count; i++) {
    int a = i >= (size_t)bytes_per_pixel ? row[i - bytes_per_pixel] : 0;
    int b = previous != NULL ? previous[i] : 0;
    int c = previous != NULL && i >= (size_t)bytes_per_pixel ? previous[i - bytes_per_pixel] : 0;
    out[i] = (uint8_t)(row[i] - paeth_predictor_naive(a, b, c));
  }
}

/// Same predictor without branches on the data, so the compiler vectorizes it:
/// pa = |b - c|, pb = |a - c|, pc = |(a - c) + (b - c)| (the distances above, simplified).
/// NOTE: 16-bit arithmetic on purpose (|pc| <= 510 fits): with int the vectorized loop works
/// in 32-bit lanes and runs about half as fast.
static inline uint8_t paeth_predictor(int16_t a, int16_t b, int16_t c) {
  int16_t from_b = (int16_t)(b - c), from_a = (int16_t)(a - c), sum = (int16_t)(from_a + from_b);
  int16_t pa = from_b < 0 ? (int16_t)-from_b : from_b;
  int16_t pb = from_a < 0 ? (int16_t)-from_a : from_a;
  int16_t pc = sum < 0 ? (int16_t)-sum : sum;
  int16_t use_a = (pa <= pb) & (pa <= pc);
  int16_t use_b = pb <= pc;
  return (uint8_t)(use_a ? a : use_b ? b : c);
}

void stn_png_paeth_filter_row(uint8_t *out, const uint8_t *row, const uint8_t *previous,
                              size_t count, int bytes_per_pixel) {
  size_t bpp = (size_t)bytes_per_pixel;
  if (previous == NULL) {
    // First row: b = c = 0, so Paeth is the Sub filter.
    for (size_t i = 0; i < bpp && i < count; i++) out[i] = row[i];
    for (size_t i = bpp; i < count; i++) out[i] = (uint8_t)(row[i] - row[i - bpp]);
    return;
  }
  for (size_t i = 0; i < bpp && i < count; i++) out[i] = (uint8_t)(row[i] - previous[i]);  // a = c = 0
  for (size_t i = bpp; i < count; i++) {
    out[i] = (uint8_t)(row[i] - paeth_predictor(row[i - bpp], previous[i], previous[i - bpp]));
  }
}

// MARK: - Deflate symbols (RFC 1951, section 3.2.5)

enum {
  LITERALS = 286,       // literal/length alphabet: 0-255 bytes, 256 end of block, 257-285 lengths
  END_OF_BLOCK = 256,
  MIN_RUN = 3,          // deflate's shortest match
  MAX_RUN = 258,        // and longest
  MAX_CODE_LENGTH = 15,
  MAX_CODE_LENGTH_CODE_LENGTH = 7,
};

/// Length code (257...285) and extra bits for a match of `length` (3...258).
static void length_symbol(int length, int *symbol, int *extra_bits, int *extra_value) {
  static const int base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                               35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
  static const int extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  int k = 28;
  while (base[k] > length) k--;
  *symbol = 257 + k;
  *extra_bits = extra[k];
  *extra_value = length - base[k];
}

// MARK: - Huffman code lengths

typedef struct {
  uint32_t frequency;
  uint16_t symbol;
} weighted_symbol;

static int compare_weighted(const void *x, const void *y) {
  const weighted_symbol *a = (const weighted_symbol *)x, *b = (const weighted_symbol *)y;
  if (a->frequency != b->frequency) return a->frequency < b->frequency ? -1 : 1;
  return (int)a->symbol - (int)b->symbol;
}

/// Optimal (unlimited) code lengths in place for frequencies sorted ascending: Moffat and
/// Katajainen's in-place algorithm ("In-place calculation of minimum-redundancy codes", 1995).
/// On return a[i] is the code length of the i-th symbol. Needs n >= 2.
static void minimum_redundancy_lengths(uint32_t *a, int n) {
  int root = 0, leaf = 2, next;
  a[0] += a[1];
  for (next = 1; next < n - 1; next++) {
    if (leaf >= n || a[root] < a[leaf]) { a[next] = a[root]; a[root++] = (uint32_t)next; }
    else a[next] = a[leaf++];
    if (leaf >= n || (root < next && a[root] < a[leaf])) { a[next] += a[root]; a[root++] = (uint32_t)next; }
    else a[next] += a[leaf++];
  }
  a[n - 2] = 0;
  for (next = n - 3; next >= 0; next--) a[next] = a[a[next]] + 1;
  int available = 1, used = 0, depth = 0;
  root = n - 2;
  next = n - 1;
  while (available > 0) {
    while (root >= 0 && (int)a[root] == depth) { used++; root--; }
    while (available > used) { a[next--] = (uint32_t)depth; available--; }
    available = 2 * used;
    depth++;
    used = 0;
  }
}

/// Code lengths (at most `limit` bits) for `count` symbols with the given frequencies. Like
/// zlib, at least two symbols get a code, so every tree is complete (some inflaters reject
/// a one-code tree).
static void huffman_lengths(const uint32_t *frequencies, int count, int limit, uint8_t *lengths) {
  weighted_symbol used[LITERALS];
  int n = 0;
  memset(lengths, 0, (size_t)count);
  for (int s = 0; s < count; s++) {
    if (frequencies[s] != 0) used[n++] = (weighted_symbol){frequencies[s], (uint16_t)s};
  }
  for (int s = 0; n < 2 && s < count; s++) {
    if (frequencies[s] == 0) used[n++] = (weighted_symbol){0, (uint16_t)s};
  }
  qsort(used, (size_t)n, sizeof(weighted_symbol), compare_weighted);
  uint32_t depth[LITERALS];
  for (int i = 0; i < n; i++) depth[i] = used[i].frequency;
  minimum_redundancy_lengths(depth, n);

  // Length limiting as in miniz (tdefl_huffman_enforce_max_code_size): fold codes deeper than
  // `limit` into it, then lengthen shorter codes until the Kraft sum is exactly 1 again.
  int per_length[33] = {0};
  for (int i = 0; i < n; i++) per_length[depth[i] > (uint32_t)limit ? limit : (int)depth[i]]++;
  uint32_t kraft = 0;
  for (int length = limit; length > 0; length--) kraft += (uint32_t)per_length[length] << (limit - length);
  while (kraft != (1u << limit)) {
    per_length[limit]--;
    for (int length = limit - 1; length > 0; length--) {
      if (per_length[length] != 0) {
        per_length[length]--;
        per_length[length + 1] += 2;
        break;
      }
    }
    kraft--;
  }
  // Rarest symbols (front of the ascending list) take the longest codes.
  int i = 0;
  for (int length = limit; length > 0; length--) {
    for (int k = per_length[length]; k > 0; k--) lengths[used[i++].symbol] = (uint8_t)length;
  }
}

/// Canonical codes from lengths (RFC 1951, 3.2.2), bit-reversed because deflate sends Huffman
/// codes starting from their most significant bit into a least-significant-first bit stream.
static void canonical_codes(const uint8_t *lengths, int count, uint16_t *codes) {
  int per_length[MAX_CODE_LENGTH + 1] = {0};
  for (int s = 0; s < count; s++) per_length[lengths[s]]++;
  per_length[0] = 0;
  int next[MAX_CODE_LENGTH + 2] = {0};
  int code = 0;
  for (int length = 1; length <= MAX_CODE_LENGTH; length++) {
    code = (code + per_length[length - 1]) << 1;
    next[length] = code;
  }
  for (int s = 0; s < count; s++) {
    int length = lengths[s];
    if (length == 0) { codes[s] = 0; continue; }
    int value = next[length]++, reversed = 0;
    for (int k = 0; k < length; k++) reversed |= ((value >> k) & 1) << (length - 1 - k);
    codes[s] = (uint16_t)reversed;
  }
}

// MARK: - Tokens: literals and distance-1 runs

/// Bytes equal to `value` from data[start] on, at most `limit`. NOTE: reads whole 8-byte words
/// and may look up to 7 bytes past `limit` (the caller's buffer carries that padding), but
/// never counts them.
static inline size_t run_length(const uint8_t *data, size_t start, size_t limit, uint8_t value) {
  uint64_t pattern = 0x0101010101010101ull * value;
  size_t length = 0;
  while (length < limit) {
    uint64_t word;
    memcpy(&word, data + start + length, 8);
    uint64_t difference = word ^ pattern;
    if (difference != 0) {
      length += (size_t)__builtin_ctzll(difference) >> 3;
      break;
    }
    length += 8;
  }
  return length < limit ? length : limit;
}

/// Calls LITERAL(byte) for single bytes, LITERAL8(pointer) for 8 bytes in a row and RUN(length)
/// for runs, over `data` in order. A run (a match at distance 1) is found only where a whole
/// 8-byte word repeats the byte before it: short runs cost a few literals, but the test is one
/// well-predicted comparison per 8 bytes instead of a data-dependent branch per byte, which
/// on photos (many scattered zero residuals) made a byte-wise scan about 4 times slower.
/// Both passes (counting, then writing) expand this same macro, so they cannot disagree about
/// the tokens.
#define FOR_EACH_TOKEN(data, count, LITERAL, LITERAL8, RUN)                       \
  do {                                                                            \
    size_t position_ = 1;                                                         \
    LITERAL((data)[0]);                                                           \
    while (position_ + 8 <= (count)) {                                            \
      uint8_t previous_ = (data)[position_ - 1];                                  \
      uint64_t word_;                                                             \
      memcpy(&word_, (data) + position_, 8);                                      \
      if (word_ == 0x0101010101010101ull * previous_) {                           \
        size_t limit_ = (count) - position_;                                      \
        if (limit_ > MAX_RUN) limit_ = MAX_RUN;                                   \
        size_t run_ = run_length((data), position_, limit_, previous_);           \
        RUN(run_);                                                                \
        position_ += run_;                                                        \
      } else {                                                                    \
        LITERAL8((data) + position_);                                             \
        position_ += 8;                                                           \
      }                                                                           \
    }                                                                             \
    for (; position_ < (count); position_++) LITERAL((data)[position_]);          \
  } while (0)

// MARK: - Bit writer

typedef struct {
  uint8_t *out;       // next byte to write; the buffer has 8 bytes of slack at the end
  uint64_t bits;      // pending bits, least significant first
  int count;          // number of pending bits, at most 7 after put_bits_flush
} bit_writer;

/// Adds bits without writing; the caller keeps count + length <= 63 (after a flush, 7 bits
/// remain at most, so three 15-bit literals or one 21-bit run code fit).
static inline void put_bits_only(bit_writer *w, uint64_t value, int length) {
  w->bits |= value << w->count;
  w->count += length;
}

/// Writes the whole bytes out without a branch: always stores 8 bytes, advances by the full
/// ones (little-endian host, checked by the encoder).
static inline void put_bits_flush(bit_writer *w) {
  memcpy(w->out, &w->bits, 8);
  int bytes = w->count >> 3;
  w->out += bytes;
  w->bits = bytes == 8 ? 0 : w->bits >> (bytes << 3);
  w->count &= 7;
}

static inline void put_bits(bit_writer *w, uint32_t value, int length) {
  put_bits_only(w, value, length);
  put_bits_flush(w);
}

static inline void flush_bits(bit_writer *w) {
  while (w->count > 0) {
    *w->out++ = (uint8_t)w->bits;
    w->bits >>= 8;
    w->count -= 8;
  }
  w->count = 0;
  w->bits = 0;
}

// MARK: - One dynamic block

/// The order in which code-length code lengths are sent (RFC 1951, 3.2.7).
static const uint8_t code_length_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

typedef struct {
  uint8_t lengths[LITERALS + 32];      // literal/length then distance code lengths, as sent
  int literal_count, distance_count;   // HLIT + 257, HDIST + 1
  uint8_t items[LITERALS + 32];        // code-length symbols 0...18
  uint8_t item_extra[LITERALS + 32];   // their repeat counts (minus the base) for 16, 17, 18
  int item_count;
  uint8_t code_length_lengths[19];
  uint16_t code_length_codes[19];
  int code_length_count;               // HCLEN + 4
  uint64_t header_bits;                // bits of the block header after the 3-bit BFINAL/BTYPE
} block_header;

/// Run-length codes the sequence of code lengths (symbols 16, 17, 18) and builds its own
/// Huffman code, as zlib's send_all_trees does.
static void plan_header(block_header *h, const uint8_t *literal_lengths, const uint8_t *distance_lengths) {
  h->literal_count = LITERALS;
  while (h->literal_count > 257 && literal_lengths[h->literal_count - 1] == 0) h->literal_count--;
  h->distance_count = 30;
  while (h->distance_count > 1 && distance_lengths[h->distance_count - 1] == 0) h->distance_count--;
  int total = h->literal_count + h->distance_count;
  memcpy(h->lengths, literal_lengths, (size_t)h->literal_count);
  memcpy(h->lengths + h->literal_count, distance_lengths, (size_t)h->distance_count);

  uint32_t frequencies[19] = {0};
  h->item_count = 0;
  for (int i = 0; i < total;) {
    uint8_t value = h->lengths[i];
    int run = 1;
    while (i + run < total && h->lengths[i + run] == value) run++;
    int left = run;
    if (value == 0) {
      while (left >= 11) { int n = left > 138 ? 138 : left; h->items[h->item_count] = 18; h->item_extra[h->item_count++] = (uint8_t)(n - 11); left -= n; }
      if (left >= 3) { h->items[h->item_count] = 17; h->item_extra[h->item_count++] = (uint8_t)(left - 3); left = 0; }
    } else {
      h->items[h->item_count] = value; h->item_extra[h->item_count++] = 0; left--;
      while (left >= 3) { int n = left > 6 ? 6 : left; h->items[h->item_count] = 16; h->item_extra[h->item_count++] = (uint8_t)(n - 3); left -= n; }
    }
    while (left-- > 0) { h->items[h->item_count] = value; h->item_extra[h->item_count++] = 0; }
    i += run;
  }
  for (int k = 0; k < h->item_count; k++) frequencies[h->items[k]]++;
  huffman_lengths(frequencies, 19, MAX_CODE_LENGTH_CODE_LENGTH, h->code_length_lengths);
  canonical_codes(h->code_length_lengths, 19, h->code_length_codes);
  h->code_length_count = 19;
  while (h->code_length_count > 4 && h->code_length_lengths[code_length_order[h->code_length_count - 1]] == 0) h->code_length_count--;

  static const int item_extra_bits[19] = {[16] = 2, [17] = 3, [18] = 7};
  h->header_bits = 5 + 5 + 4 + 3 * (uint64_t)h->code_length_count;
  for (int k = 0; k < h->item_count; k++) {
    h->header_bits += h->code_length_lengths[h->items[k]] + (uint64_t)item_extra_bits[h->items[k]];
  }
}

static void write_header(bit_writer *w, const block_header *h) {
  static const int item_extra_bits[19] = {[16] = 2, [17] = 3, [18] = 7};
  put_bits(w, (uint32_t)(h->literal_count - 257), 5);
  put_bits(w, (uint32_t)(h->distance_count - 1), 5);
  put_bits(w, (uint32_t)(h->code_length_count - 4), 4);
  for (int k = 0; k < h->code_length_count; k++) put_bits(w, h->code_length_lengths[code_length_order[k]], 3);
  for (int k = 0; k < h->item_count; k++) {
    int item = h->items[k];
    put_bits(w, h->code_length_codes[item], h->code_length_lengths[item]);
    if (item_extra_bits[item] != 0) put_bits(w, h->item_extra[k], item_extra_bits[item]);
  }
}

// MARK: - PNG container

static void store_big_endian(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/// Writes a chunk whose `length` data bytes are already at p + 8; returns the end of the chunk.
static uint8_t *finish_chunk(uint8_t *p, const char type[4], uint32_t length) {
  store_big_endian(p, length);
  memcpy(p + 4, type, 4);
  uLong crc = crc32(0L, p + 4, 4 + length);
  store_big_endian(p + 8 + length, (uint32_t)crc);
  return p + 12 + length;
}

// MARK: - Encoder

/// Largest IDAT payload we put in one chunk (PNG allows 2^31 - 1; 1 MiB keeps the rarely
/// used multi-chunk path reachable by tests with a modest image).
#define MAX_IDAT ((size_t)1 << 20)

int stn_png_encode_fast(const uint8_t *pixels, int width, int height, int channels,
                        uint8_t **out, size_t *out_size, char message[STN_MESSAGE_SIZE]) {
  *out = NULL;
  *out_size = 0;
  message[0] = 0;
  if ((channels != 1 && channels != 3) || width <= 0 || height <= 0) STN_FAIL(message, STN_ERR_INVALID, "PNG needs 1 or 3 channels and a non-empty size");
  const uint16_t endian_probe = 1;
  if (*(const uint8_t *)&endian_probe != 1) STN_FAIL(message, STN_ERR_INVALID, "the fast PNG encoder needs a little-endian host");
  size_t stride = (size_t)width * (size_t)channels;
  size_t row_bytes = stride + 1;  // filter type byte, then the filtered row
  // Symbol counts are 32-bit: keep the filtered stream under 4 GiB (zlib levels have no limit).
  if ((size_t)height > (size_t)0xFFFFFF00u / row_bytes) STN_FAIL(message, STN_ERR_TOO_LARGE, "image over 4 GiB: too large for the fast encoder, use a zlib level");
  size_t count = row_bytes * (size_t)height;

  // 1. Filter every row with Paeth into one buffer (plus 8 bytes of padding for run_length).
  uint8_t *filtered = (uint8_t *)malloc(count + 8);
  if (filtered == NULL) STN_FAIL(message, STN_ERR_NOMEM, "out of memory");
  memset(filtered + count, 0, 8);
  for (size_t y = 0; y < (size_t)height; y++) {
    uint8_t *row = filtered + y * row_bytes;
    row[0] = 4;  // Paeth
    stn_png_paeth_filter_row(row + 1, pixels + y * stride, y > 0 ? pixels + (y - 1) * stride : NULL, stride, channels);
  }

  // 2. Count the tokens, build the table and work out the exact size of the block.
  // Four histograms, summed afterwards: runs of equal bytes would otherwise make each
  // increment wait for the previous one to the same counter.
  uint32_t partial[4][256];
  memset(partial, 0, sizeof partial);
  uint32_t literal_frequencies[LITERALS] = {0}, distance_frequencies[30] = {0};
  uint64_t run_extra_bits = 0;
#define COUNT_LITERAL(byte) partial[0][(byte)]++
#define COUNT_LITERAL8(p)                                                   \
  do {                                                                      \
    partial[0][(p)[0]]++; partial[1][(p)[1]]++;                             \
    partial[2][(p)[2]]++; partial[3][(p)[3]]++;                             \
    partial[0][(p)[4]]++; partial[1][(p)[5]]++;                             \
    partial[2][(p)[6]]++; partial[3][(p)[7]]++;                             \
  } while (0)
#define COUNT_RUN(length)                                                   \
  do {                                                                      \
    int symbol_, extra_bits_, extra_value_;                                 \
    length_symbol((int)(length), &symbol_, &extra_bits_, &extra_value_);    \
    literal_frequencies[symbol_]++;                                         \
    distance_frequencies[0]++;                                              \
    run_extra_bits += (uint64_t)extra_bits_;                                \
  } while (0)
  FOR_EACH_TOKEN(filtered, count, COUNT_LITERAL, COUNT_LITERAL8, COUNT_RUN);
#undef COUNT_LITERAL
#undef COUNT_LITERAL8
#undef COUNT_RUN
  for (int b = 0; b < 256; b++) literal_frequencies[b] = partial[0][b] + partial[1][b] + partial[2][b] + partial[3][b];
  literal_frequencies[END_OF_BLOCK] = 1;

  uint8_t literal_lengths[LITERALS], distance_lengths[30];
  uint16_t literal_codes[LITERALS], distance_codes[30];
  huffman_lengths(literal_frequencies, LITERALS, MAX_CODE_LENGTH, literal_lengths);
  huffman_lengths(distance_frequencies, 30, MAX_CODE_LENGTH, distance_lengths);
  canonical_codes(literal_lengths, LITERALS, literal_codes);
  canonical_codes(distance_lengths, 30, distance_codes);
  block_header header;
  plan_header(&header, literal_lengths, distance_lengths);
  uint64_t dynamic_bits = 3 + header.header_bits + run_extra_bits;
  for (int s = 0; s < LITERALS; s++) dynamic_bits += (uint64_t)literal_frequencies[s] * literal_lengths[s];
  dynamic_bits += (uint64_t)distance_frequencies[0] * distance_lengths[0];
  size_t dynamic_bytes = (size_t)((dynamic_bits + 7) / 8);
  // Stored blocks (at most 65,535 bytes each, 5 bytes of header) when the data does not
  // compress, e.g. noise: the output is then never much larger than the pixels.
  size_t stored_blocks = (count + 65534) / 65535;
  size_t stored_bytes = count + 5 * stored_blocks;
  int use_stored = stored_bytes <= dynamic_bytes;
  size_t deflate_bytes = use_stored ? stored_bytes : dynamic_bytes;
  size_t zlib_bytes = 2 + deflate_bytes + 4;

  size_t idat_chunks = (zlib_bytes + MAX_IDAT - 1) / MAX_IDAT;
  size_t total = 8 + 25 + 12 * idat_chunks + zlib_bytes + 12;
  // The zlib stream is written first at its own offset, then framed into chunks in place.
  uint8_t *png = (uint8_t *)malloc(total + 8);
  if (png == NULL) {
    free(filtered);
    stn_set_message(message, "out of memory");
    return STN_ERR_NOMEM;
  }

  // 3. The zlib stream, written where a single IDAT chunk's data begins.
  uint8_t *zlib = png + 8 + 25 + 8;
  uint8_t *z = zlib;
  *z++ = 0x78;  // deflate, 32 KiB window
  *z++ = 0x01;  // no preset dictionary, "fastest" level hint; (0x78 * 256 + 0x01) % 31 == 0
  if (use_stored) {
    size_t left = count;
    const uint8_t *source = filtered;
    do {
      size_t n = left < 65535 ? left : 65535;
      left -= n;
      *z++ = left == 0 ? 1 : 0;  // BFINAL, BTYPE 00, padded to the byte
      z[0] = (uint8_t)n; z[1] = (uint8_t)(n >> 8);
      z[2] = (uint8_t)~n; z[3] = (uint8_t)(~n >> 8);
      memcpy(z + 4, source, n);
      z += 4 + n;
      source += n;
    } while (left > 0);
  } else {
    // Codes with their extra bits and the distance-1 code folded in, looked up once per token.
    uint32_t run_code[MAX_RUN + 1];
    uint8_t run_code_length[MAX_RUN + 1];
    for (int length = MIN_RUN; length <= MAX_RUN; length++) {
      int symbol, extra_bits, extra_value;
      length_symbol(length, &symbol, &extra_bits, &extra_value);
      uint32_t code = literal_codes[symbol];
      int bits = literal_lengths[symbol];
      code |= (uint32_t)extra_value << bits;
      bits += extra_bits;
      code |= (uint32_t)distance_codes[0] << bits;
      bits += distance_lengths[0];
      // NOTE: at most 15 + 5 + 1 = 21 bits: only distance code 0 is used, so the distance
      // tree is zlib's forced pair of 1-bit codes. put_bits takes up to 32.
      run_code[length] = code;
      run_code_length[length] = (uint8_t)bits;
    }
    bit_writer w = {z, 0, 0};
    put_bits(&w, 1 | (2 << 1), 3);  // BFINAL = 1, BTYPE = 10 (dynamic Huffman)
    write_header(&w, &header);
    // Codes and lengths of literals in one table, so each byte is one load.
    uint32_t literal_table[256];
    for (int b = 0; b < 256; b++) literal_table[b] = (uint32_t)literal_codes[b] | ((uint32_t)literal_lengths[b] << 16);
#define PUT_LITERAL(byte) put_bits_only(&w, literal_table[(byte)] & 0xFFFF, (int)(literal_table[(byte)] >> 16))
#define WRITE_LITERAL(byte)                                                  \
  do {                                                                       \
    PUT_LITERAL(byte);                                                       \
    put_bits_flush(&w);                                                      \
  } while (0)
#define WRITE_LITERAL8(p)                                                    \
  do {                                                                       \
    PUT_LITERAL((p)[0]); PUT_LITERAL((p)[1]); PUT_LITERAL((p)[2]);           \
    put_bits_flush(&w);                                                      \
    PUT_LITERAL((p)[3]); PUT_LITERAL((p)[4]); PUT_LITERAL((p)[5]);           \
    put_bits_flush(&w);                                                      \
    PUT_LITERAL((p)[6]); PUT_LITERAL((p)[7]);                                \
    put_bits_flush(&w);                                                      \
  } while (0)
#define WRITE_RUN(length) put_bits(&w, run_code[(length)], run_code_length[(length)])
    FOR_EACH_TOKEN(filtered, count, WRITE_LITERAL, WRITE_LITERAL8, WRITE_RUN);
#undef PUT_LITERAL
#undef WRITE_LITERAL
#undef WRITE_LITERAL8
#undef WRITE_RUN
    put_bits(&w, literal_codes[END_OF_BLOCK], literal_lengths[END_OF_BLOCK]);
    flush_bits(&w);
    z = w.out;
  }
  uLong adler = adler32(0L, Z_NULL, 0);
  for (size_t done = 0; done < count;) {
    size_t n = count - done < ((size_t)1 << 30) ? count - done : ((size_t)1 << 30);
    adler = adler32(adler, filtered + done, (uInt)n);
    done += n;
  }
  store_big_endian(z, (uint32_t)adler);
  z += 4;
  free(filtered);
  if ((size_t)(z - zlib) != zlib_bytes) {
    free(png);
    stn_set_message(message, "internal error: deflate size differs from its plan");
    return STN_ERR_INVALID;
  }

  // 4. Signature, IHDR, IDAT chunk(s), IEND.
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  memcpy(png, signature, 8);
  uint8_t *p = png + 8;
  store_big_endian(p + 8, (uint32_t)width);
  store_big_endian(p + 12, (uint32_t)height);
  p[16] = 8;                          // bit depth
  p[17] = channels == 1 ? 0 : 2;      // gray or RGB
  p[18] = 0; p[19] = 0; p[20] = 0;    // deflate, adaptive filtering, no interlace
  p = finish_chunk(p, "IHDR", 13);
  if (idat_chunks == 1) {
    p = finish_chunk(p, "IDAT", (uint32_t)zlib_bytes);
  } else {
    // Huge images only: move the stream back chunk by chunk to make room for the framing.
    for (size_t k = idat_chunks; k-- > 0;) {
      size_t offset = k * MAX_IDAT;
      size_t n = zlib_bytes - offset < MAX_IDAT ? zlib_bytes - offset : MAX_IDAT;
      uint8_t *chunk = png + 8 + 25 + k * (MAX_IDAT + 12);
      memmove(chunk + 8, zlib + offset, n);
    }
    for (size_t k = 0; k < idat_chunks; k++) {
      size_t offset = k * MAX_IDAT;
      size_t n = zlib_bytes - offset < MAX_IDAT ? zlib_bytes - offset : MAX_IDAT;
      p = finish_chunk(p, "IDAT", (uint32_t)n);
    }
  }
  p = finish_chunk(p, "IEND", 0);
  *out = png;
  *out_size = (size_t)(p - png);
  return STN_OK;
}
