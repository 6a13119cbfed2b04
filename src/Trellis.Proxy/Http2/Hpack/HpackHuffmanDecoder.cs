namespace Trellis.Proxy.Http2.Hpack;

/// <summary>
/// Decodes Huffman-coded string literals (RFC 7541 §5.2, Appendix B) a nibble at a time. The
/// states are the 256 internal nodes of the code tree; at type init every (state, nibble) pair is
/// resolved once into the next state plus at most one emitted symbol (the shortest code is 5 bits,
/// so a 4-bit step can complete at most one). Decoding is then two table reads per input byte.
/// </summary>
internal static class HpackHuffmanDecoder
{
    private const int StateCount = 256;
    private const uint StateMask = 0xFF;
    private const int SymbolShift = 8;
    private const uint EmitFlag = 1u << 16;
    private const uint EosFlag = 1u << 17;

    // Transitions[state * 16 + nibble]: bits 0-7 next state, 8-15 symbol, then EmitFlag and EosFlag.
    private static readonly uint[] Transitions = new uint[StateCount * 16];

    // Whether a string may end in this state: at the root, or on the all-ones path at most 7 bits
    // deep. Anything else is padding that is too long or not a prefix of EOS (§5.2).
    private static readonly bool[] Accepting = new bool[StateCount];

#pragma warning disable CA1810 // The tables are computed from one another; an initializer per field cannot express that.
    static HpackHuffmanDecoder()
#pragma warning restore CA1810
    {
        // children[node * 2 + bit]: an internal node's id, or ~symbol for a leaf.
        var children = new int[StateCount * 2];
        var depth = new int[StateCount];
        var allOnes = new bool[StateCount];
        allOnes[0] = true;
        var nodeCount = 1;

        var codes = HpackHuffmanCode.Codes;
        var lengths = HpackHuffmanCode.Lengths;
        for (var symbol = 0; symbol < HpackHuffmanCode.SymbolCount; symbol++)
        {
            var node = 0;
            for (var bitIndex = lengths[symbol] - 1; bitIndex > 0; bitIndex--)
            {
                var slot = (node * 2) + (int)((codes[symbol] >> bitIndex) & 1);
                if (children[slot] == 0)
                {
                    depth[nodeCount] = depth[node] + 1;
                    allOnes[nodeCount] = allOnes[node] && (slot & 1) == 1;
                    children[slot] = nodeCount++;
                }

                node = children[slot];
            }

            children[(node * 2) + (int)(codes[symbol] & 1)] = ~symbol;
        }

        if (nodeCount != StateCount)
        {
            throw new InvalidOperationException($"The Huffman code table is not a complete code ({nodeCount} internal nodes).");
        }

        for (var state = 0; state < StateCount; state++)
        {
            Accepting[state] = state == 0 || (allOnes[state] && depth[state] <= 7);
            for (var nibble = 0; nibble < 16; nibble++)
            {
                Transitions[(state * 16) + nibble] = Step(children, state, nibble);
            }
        }
    }

    /// <summary>The most bytes <paramref name="encodedLength"/> coded bytes can decode to (5-bit shortest code).</summary>
    public static int MaxDecodedLength(int encodedLength) => (int)Math.Min(encodedLength * 8L / 5, Array.MaxLength);

    /// <summary>
    /// Decodes <paramref name="source"/> into <paramref name="destination"/> (at least
    /// <see cref="MaxDecodedLength"/> bytes) and returns the decoded length.
    /// </summary>
    public static int Decode(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var transitions = Transitions;
        var state = 0u;
        var written = 0;
        foreach (var octet in source)
        {
            var high = transitions[(int)((state << 4) | (uint)(octet >> 4))];
            var low = transitions[(int)(((high & StateMask) << 4) | (uint)(octet & 0xF))];
            if (((high | low) & EosFlag) != 0)
            {
                throw new HpackException("Huffman string contains the EOS symbol.");
            }

            if ((high & EmitFlag) != 0)
            {
                destination[written++] = (byte)(high >> SymbolShift);
            }

            if ((low & EmitFlag) != 0)
            {
                destination[written++] = (byte)(low >> SymbolShift);
            }

            state = low & StateMask;
        }

        if (!Accepting[state])
        {
            throw new HpackException("Huffman string ends in padding longer than 7 bits or not all ones.");
        }

        return written;
    }

    private static uint Step(int[] children, int state, int nibble)
    {
        var node = state;
        var result = 0u;
        for (var bitIndex = 3; bitIndex >= 0; bitIndex--)
        {
            var child = children[(node * 2) + ((nibble >> bitIndex) & 1)];
            if (child > 0)
            {
                node = child;
                continue;
            }

            var symbol = ~child;
            if (symbol == HpackHuffmanCode.Eos)
            {
                return EosFlag;
            }

            result = EmitFlag | ((uint)symbol << SymbolShift);
            node = 0;
        }

        return result | (uint)node;
    }
}
