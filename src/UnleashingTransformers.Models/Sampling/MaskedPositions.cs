namespace UnleashingTransformers.Models.Sampling;

/// <summary>
/// The still-masked positions of a sequence or canvas. Membership and removal cost O(1); the ascending
/// list is compacted lazily, once per read after removals. A step thus costs what it reveals plus at
/// most one pass over what is still masked, never a list removal per revealed token.
/// </summary>
public sealed class MaskedPositions
{
    private readonly bool[] _masked;
    private readonly int[] _list;
    private int _listCount;
    private bool _stale;

    /// <summary>All <paramref name="length"/> positions masked.</summary>
    public MaskedPositions(int length)
    {
        _masked = new bool[length];
        Array.Fill(_masked, true);
        _list = Enumerable.Range(0, length).ToArray();
        _listCount = Count = length;
    }

    /// <summary>The positions of <paramref name="tokens"/> that hold <paramref name="maskId"/>.</summary>
    public MaskedPositions(ReadOnlySpan<long> tokens, long maskId)
    {
        _masked = new bool[tokens.Length];
        _list = new int[tokens.Length];
        for (var i = 0; i < tokens.Length; i++)
            if (tokens[i] == maskId)
            {
                _masked[i] = true;
                _list[_listCount++] = i;
            }
        Count = _listCount;
    }

    /// <summary>The positions flagged in <paramref name="mask"/>.</summary>
    public MaskedPositions(bool[] mask)
    {
        _masked = (bool[])mask.Clone();
        _list = new int[mask.Length];
        for (var i = 0; i < mask.Length; i++)
            if (mask[i]) _list[_listCount++] = i;
        Count = _listCount;
    }

    /// <summary>Positions in all (masked or not).</summary>
    public int Length => _masked.Length;

    /// <summary>Positions still masked.</summary>
    public int Count { get; private set; }

    public bool Contains(int position) => _masked[position];

    public void Remove(int position)
    {
        if (!_masked[position]) return;
        _masked[position] = false;
        Count--;
        _stale = true;
    }

    /// <summary>The masked positions, ascending.</summary>
    public ReadOnlySpan<int> Positions
    {
        get
        {
            if (_stale)
            {
                var n = 0;
                for (var i = 0; i < _listCount; i++)
                    if (_masked[_list[i]]) _list[n++] = _list[i];
                (_listCount, _stale) = (n, false);
            }
            return _list.AsSpan(0, _listCount);
        }
    }
}
