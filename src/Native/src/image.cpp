// Image I/O through libvips: decode any file libvips reads to 8-bit sRGB, encode PNG/JPEG/WebP.
// Everything else about images (geometry, resampling, tensors) lives in C#.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vips/vips8>

#include "common.h"

namespace {

// libvips reports damaged pixel data as warnings, one per row: with fail_on=error such a file is an
// error instead, so the warnings carry nothing the caller does not get once, as the error.
void drop_warning(const gchar*, GLogLevelFlags, const gchar*, gpointer) {}

bool started() {
  static const bool ok = [] {
    if (VIPS_INIT("ut_native") != 0) return false;
    g_log_set_handler("VIPS", static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING), drop_warning,
                      nullptr);
    return true;
  }();
  return ok;
}

// libvips' error text is its error buffer: several lines, one per layer that failed. Callers get
// one.
std::string one_line(const char* text) {
  std::string msg;
  for (const char* c = text; *c; ++c) msg += *c == '\n' ? std::string("; ") : std::string(1, *c);
  while (!msg.empty() && (msg.back() == ';' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

std::string lower_extension(const std::string& path) {
  auto dot = path.find_last_of('.');
  std::string ext = dot == std::string::npos ? "" : path.substr(dot);
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

}  // namespace

extern "C" {

const char* ut_vips_version(void) {
  started();
  return vips_version_string();
}

int ut_image_load(const char* path, int64_t max_pixels, int32_t shrink_to, int32_t* width,
                  int32_t* height, uint8_t** pixels) {
  UT_GUARD({
    TORCH_CHECK(started(), "libvips failed to start");
    vips::VImage img;
    try {
      // Opening reads the header only: the size is checked before any pixel is decoded.
      img = vips::VImage::new_from_file(path, vips::VImage::option()
                                                  ->set("access", VIPS_ACCESS_SEQUENTIAL)
                                                  ->set("fail_on", VIPS_FAIL_ON_ERROR));
      const int64_t area = static_cast<int64_t>(img.width()) * img.height();
      if (max_pixels > 0 && area > max_pixels)
        throw std::invalid_argument(std::string(path) + ": " + std::to_string(img.width()) + "x" +
                                    std::to_string(img.height()) + " pixels is over the limit of " +
                                    std::to_string(max_pixels) +
                                    " (resize it first, or raise --max-pixels)");
      // Far larger than needed: decoded already reduced (JPEG and WebP decode at a fraction of
      // their size, the rest streams through the reduction), never whole.
      const int shorter = std::min(img.width(), img.height());
      if (shrink_to > 0 && shorter > 2 * shrink_to) {
        const double factor = static_cast<double>(shorter) / shrink_to;
        const int w = std::max(1, static_cast<int>(std::lround(img.width() / factor)));
        const int h = std::max(1, static_cast<int>(std::lround(img.height() / factor)));
        img = vips::VImage::thumbnail(path, w,
                                      vips::VImage::option()
                                          ->set("height", h)
                                          ->set("size", VIPS_SIZE_FORCE)
                                          ->set("no_rotate", true)
                                          ->set("fail_on", VIPS_FAIL_ON_ERROR));
      }
      // Alpha is dropped, not composited (as PIL's convert("RGB") does for the reference's loader).
      if (img.has_alpha())
        img = img.extract_band(0, vips::VImage::option()->set("n", img.bands() - 1));
      img = img.colourspace(VIPS_INTERPRETATION_sRGB);
      if (img.bands() > 3) img = img.extract_band(0, vips::VImage::option()->set("n", 3));
      if (img.format() != VIPS_FORMAT_UCHAR) img = img.cast(VIPS_FORMAT_UCHAR);
      TORCH_CHECK(img.bands() == 3, path, ": cannot convert ", img.bands(), "-band image to RGB");
      size_t size = 0;
      void* mem = img.write_to_memory(&size);
      TORCH_CHECK(size == static_cast<size_t>(img.width()) * img.height() * 3, path,
                  ": unexpected decoded size");
      *width = img.width();
      *height = img.height();
      *pixels = static_cast<uint8_t*>(mem);  // g_malloc'd; glib's default allocator is malloc
    } catch (vips::VError& e) {
      throw std::runtime_error(std::string(path) + ": cannot read image (" + one_line(e.what()) +
                               ")");
    }
  })
}

}  // extern "C"

namespace {

// An interleaved HxWxbands uint8 image (from memory or a raw file) tagged with its colours: sRGB
// with 3 or 4 bands, grey with 1 or 2.
vips::VImage tagged(vips::VImage img) {
  return img.copy(vips::VImage::option()->set(
      "interpretation", img.bands() >= 3 ? VIPS_INTERPRETATION_sRGB : VIPS_INTERPRETATION_B_W));
}

void check_geometry(int32_t width, int32_t height, int32_t bands) {
  TORCH_CHECK(started(), "libvips failed to start");
  TORCH_CHECK(bands >= 1 && bands <= 4, "images have 1 to 4 bands, not ", bands);
  TORCH_CHECK(width > 0 && height > 0, "empty image");
}

vips::VImage from_memory(const uint8_t* pixels, int32_t width, int32_t height, int32_t bands) {
  return tagged(vips::VImage::new_from_memory(const_cast<uint8_t*>(pixels),
                                              static_cast<size_t>(width) * height * bands, width,
                                              height, bands, VIPS_FORMAT_UCHAR));
}

// Saves by the path's extension: PNG (with the parameters text chunk), JPEG, WebP, tiled pyramidal
// TIFF, or a DeepZoom pyramid (x.dzi beside a folder x_files of tiles). Every writer streams from
// the image's source.
void save_as(vips::VImage img, const std::string& path, int quality, const char* parameters) {
  const std::string ext = lower_extension(path);
  if (ext == ".png") {
    // libvips writes a metadata field png-comment-N-KEY as a text chunk named KEY.
    if (parameters != nullptr) img.set("png-comment-0-parameters", parameters);
    img.pngsave(path.c_str(), vips::VImage::option()->set("compression", 6));
  } else if (ext == ".jpg" || ext == ".jpeg") {
    img.jpegsave(path.c_str(), vips::VImage::option()->set("Q", quality));
  } else if (ext == ".webp") {
    img.webpsave(path.c_str(), vips::VImage::option()->set("Q", quality));
  } else if (ext == ".tif" || ext == ".tiff") {
    img.tiffsave(path.c_str(), vips::VImage::option()
                                   ->set("tile", true)
                                   ->set("pyramid", true)
                                   ->set("compression", VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE)
                                   ->set("tile_width", 256)
                                   ->set("tile_height", 256));
  } else if (ext == ".dzi") {
    // dzsave takes the pyramid's base name: x.dzi and x_files/ are written beside each other.
    const std::string base = path.substr(0, path.size() - ext.size());
    img.dzsave(base.c_str(), vips::VImage::option()->set(
                                 "suffix", (".jpeg[Q=" + std::to_string(quality) + "]").c_str()));
  } else {
    throw std::invalid_argument(path + ": unknown image format '" + ext +
                                "' (use .png, .jpg, .webp, .tif or .dzi)");
  }
}

}  // namespace

extern "C" {

int ut_image_save(const char* path, const uint8_t* pixels, int32_t width, int32_t height,
                  int32_t bands, int32_t quality, const char* parameters) {
  UT_GUARD({
    check_geometry(width, height, bands);
    try {
      save_as(from_memory(pixels, width, height, bands), path, quality, parameters);
    } catch (vips::VError& e) {
      throw std::runtime_error(std::string(path) + ": cannot write image (" + one_line(e.what()) +
                               ")");
    }
  })
}

int ut_image_convert(const char* source, const char* path, int32_t quality) {
  UT_GUARD({
    TORCH_CHECK(started(), "libvips failed to start");
    try {
      save_as(vips::VImage::new_from_file(
                  source, vips::VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL)),
              path, quality, nullptr);
    } catch (vips::VError& e) {
      throw std::runtime_error(std::string(source) + " -> " + path + ": cannot convert image (" +
                               one_line(e.what()) + ")");
    }
  })
}

int ut_image_save_raw(const char* raw, int32_t width, int32_t height, int32_t bands,
                      const char* path, int32_t quality, const char* parameters) {
  UT_GUARD({
    check_geometry(width, height, bands);
    try {
      save_as(tagged(vips::VImage::rawload(raw, width, height, bands)), path, quality, parameters);
    } catch (vips::VError& e) {
      throw std::runtime_error(std::string(path) + ": cannot write image (" + one_line(e.what()) +
                               ")");
    }
  })
}

int ut_image_encode(const char* format, const uint8_t* pixels, int32_t width, int32_t height,
                    int32_t bands, uint8_t** data, int64_t* length) {
  UT_GUARD({
    check_geometry(width, height, bands);
    try {
      void* buffer = nullptr;
      size_t size = 0;
      from_memory(pixels, width, height, bands).write_to_buffer(format, &buffer, &size);
      *data = static_cast<uint8_t*>(buffer);  // g_malloc'd; glib's default allocator is malloc
      *length = static_cast<int64_t>(size);
    } catch (vips::VError& e) {
      throw std::runtime_error(std::string("cannot encode image as ") + format + " (" +
                               one_line(e.what()) + ")");
    }
  })
}

int ut_image_text(const char* path, const char* key, char** value) {
  UT_GUARD({
    TORCH_CHECK(started(), "libvips failed to start");
    *value = nullptr;
    try {
      vips::VImage img = vips::VImage::new_from_file(
          path, vips::VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL));
      // Text chunks load as png-comment-N-KEY, N their index in the file.
      const std::string suffix = std::string("-") + key;
      gchar** fields = vips_image_get_fields(img.get_image());
      for (gchar** f = fields; *f != nullptr && *value == nullptr; ++f) {
        const std::string name(*f);
        if (name.rfind("png-comment-", 0) == 0 && name.size() > suffix.size() &&
            name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
          const char* text = nullptr;
          if (vips_image_get_string(img.get_image(), *f, &text) == 0 && text != nullptr)
            *value = strdup(text);
        }
      }
      g_strfreev(fields);
    } catch (vips::VError& e) {
      throw std::runtime_error(std::string(path) + ": cannot read image (" + one_line(e.what()) +
                               ")");
    }
  })
}

}  // extern "C"
