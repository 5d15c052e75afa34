using UnleashingTransformers.Torch;
using static UnleashingTransformers.Torch.torch;

namespace UnleashingTransformers.Imaging;

/// <summary>
/// An image set as evaluation reads it: the images of a folder (name order) cut into non-overlapping square
/// crops (row-major within an image; a remainder narrower than a crop is left out), float (N, 3, crop, crop) in
/// [0, 1]. A canvas far larger than the training window thus counts as many images of the window's scale.
/// </summary>
public static class ImageCrops
{
    /// <summary>At most <paramref name="count"/> crops of <paramref name="crop"/> px, and the file each came from.</summary>
    public static (Tensor crops, IReadOnlyList<string> sources) FromFolder(string root, int crop, int count)
    {
        if (crop < 16) throw new ArgumentException($"crops of {crop} px: crops must be at least 16 px");
        if (count < 1) throw new ArgumentException($"a count of {count} crops: must be at least 1");
        var folder = ImageFolder.Open(root);
        using var scope = NewDisposeScope();
        var crops = new List<Tensor>();
        var sources = new List<string>();
        foreach (var file in folder.Files)
        {
            using var inner = NewDisposeScope();
            var rgb = Images.LoadRgb(file);
            var (h, w) = (rgb.size(1), rgb.size(2));
            for (long y = 0; y + crop <= h && crops.Count < count; y += crop)
                for (long x = 0; x + crop <= w && crops.Count < count; x += crop)
                {
                    crops.Add((rgb.narrow(1, y, crop).narrow(2, x, crop).to(float32) / 255).MoveToOuterDisposeScope());
                    sources.Add(file);
                }
            if (crops.Count >= count) break;
        }
        if (crops.Count == 0) throw new ArgumentException($"{root}: no image is {crop} px or more a side: use smaller crops");
        return (stack(crops).MoveToOuterDisposeScope(), sources);
    }
}
