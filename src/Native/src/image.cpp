// Image I/O through libvips. (Decoding and encoding arrive with the imaging work; this file keeps
// libvips linked and initialised so a machine without it fails at build time, not at first use.)
#include <vips/vips8>

#include "common.h"

extern "C" {

const char* ut_vips_version(void) {
  static const bool started = VIPS_INIT("ut_native") == 0;
  (void)started;
  return vips_version_string();
}

}  // extern "C"
