// Image I/O in a build without libvips (UT_WITH_VIPS=OFF): every call fails, saying why.
#include <stdexcept>

#include "common.h"

namespace {
[[noreturn]] void no_vips() {
  throw std::runtime_error(
      "this libut_native was built without libvips (UT_WITH_VIPS=OFF): images cannot be read or "
      "written; rebuild with libvips-dev installed");
}
}  // namespace

extern "C" {

const char* ut_vips_version(void) { return "none"; }

int ut_image_load(const char* path, int64_t max_pixels, int32_t shrink_to, int32_t* width,
                  int32_t* height, uint8_t** pixels) {
  UT_GUARD({ no_vips(); })
}

int ut_image_save(const char* path, const uint8_t* pixels, int32_t width, int32_t height,
                  int32_t bands, int32_t quality, const char* parameters) {
  UT_GUARD({ no_vips(); })
}

int ut_image_text(const char* path, const char* key, char** value) {
  UT_GUARD({ no_vips(); })
}

int ut_image_convert(const char* source, const char* path, int32_t quality) {
  UT_GUARD({ no_vips(); })
}

int ut_image_save_raw(const char* raw, int32_t width, int32_t height, int32_t bands,
                      const char* path, int32_t quality, const char* parameters) {
  UT_GUARD({ no_vips(); })
}

int ut_image_encode(const char* format, const uint8_t* pixels, int32_t width, int32_t height,
                    int32_t bands, uint8_t** data, int64_t* length) {
  UT_GUARD({ no_vips(); })
}

}  // extern "C"
