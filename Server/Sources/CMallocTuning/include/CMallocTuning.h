#ifndef SIGIL_C_MALLOC_TUNING_H
#define SIGIL_C_MALLOC_TUNING_H

/// glibc's malloc.h is not part of Swift's Glibc module: this exposes the one setting
/// sigil-server changes. Returns 1 on success, 0 where it does not apply (not glibc).
int sigil_set_malloc_trim_threshold(int bytes);

#endif
