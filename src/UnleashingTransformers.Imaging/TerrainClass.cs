namespace UnleashingTransformers.Imaging;

/// <summary>The bands of <see cref="TerrainMaps"/>' palette; Other is a colour of none of them.</summary>
public enum TerrainClass
{
    Water,
    Sand,
    Grass,
    Forest,
    Rock,
    Snow,
    Other,
}
