using UnleashingTransformers.Models.VqGan;

namespace UnleashingTransformers.Grid.Jobs;

/// <summary>
/// Where a canvas silo's finished images lie (the state volume's <c>images/</c>): each job's PNG and its DeepZoom
/// pyramid, the files a reader may ask for by name, their removal (retention), and the cleanup, at start, of renders
/// a killed silo cut short.
/// </summary>
public sealed class JobImages
{
    /// <summary>How long a render's temporary file lies untouched before a starting silo takes it for a dead render's.</summary>
    public static readonly TimeSpan LeftoverAge = TimeSpan.FromMinutes(10);

    public string Directory { get; }

    public JobImages(string stateDirectory)
    {
        Directory = Path.Combine(stateDirectory, "images");
        System.IO.Directory.CreateDirectory(Directory);
        // Renders cut short by a killed silo (this one, or another on the shared volume) left files behind.
        if (CanvasDecoder.RemoveLeftovers(Directory, LeftoverAge) is var removed and > 0)
            Console.WriteLine($"silo: removed {removed} leftover file(s) of renders cut short from {Directory}");
    }

    public string ImagePath(string id) => Path.Combine(Directory, $"{id}.png");

    /// <summary>The DeepZoom pyramid of a job's image: <c>{id}.dzi</c> and the folder <c>{id}_files</c>.</summary>
    public string PyramidPath(string id) => Path.Combine(Directory, $"{id}.dzi");

    private string PyramidTiles(string id) => Path.Combine(Directory, $"{id}_files");

    /// <summary>Where a file of a job's output that a reader asks for lies: <c>image.png</c>, <c>image.dzi</c> and
    /// tiles named as dzsave names them (<c>image_files/LEVEL/COL_ROW.jpeg</c>); null for anything else.</summary>
    public string? OutputFile(string id, string file)
    {
        if (file == "image.png") return ImagePath(id);
        if (file == "image.dzi") return PyramidPath(id);
        var parts = file.Split('/');
        if (parts.Length == 3 && parts[0] == "image_files" && int.TryParse(parts[1], out var level) && level is >= 0 and < 64
            && System.Text.RegularExpressions.Regex.IsMatch(parts[2], "^[0-9]{1,6}_[0-9]{1,6}\\.jpeg$"))
            return Path.Combine(PyramidTiles(id), level.ToString(), parts[2]);
        return null;
    }

    /// <summary>Removes a job's image and its pyramid (retention).</summary>
    public void Delete(string id)
    {
        File.Delete(ImagePath(id));
        File.Delete(PyramidPath(id));
        if (System.IO.Directory.Exists(PyramidTiles(id))) System.IO.Directory.Delete(PyramidTiles(id), recursive: true);
    }
}
