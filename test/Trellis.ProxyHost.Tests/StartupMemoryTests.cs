using Trellis.Cli.Roles;

namespace Trellis.ProxyHost.Tests;

/// <summary>Which mappings <see cref="StartupMemory"/> may drop: a wrong answer loses written data or drops nothing.</summary>
public sealed class StartupMemoryTests
{
    [Theory]
    // The executable's text and read-only data, a shared library's text: clean, dropped.
    [InlineData("55d0c0000000-55d0c0800000 r-xp 00026000 08:01 1234 /opt/trellis/trellis-proxy", "0 kB", true)]
    [InlineData("55d0c0800000-55d0c0900000 r--p 00a67000 08:01 1234 /opt/trellis/trellis-proxy", "0 kB", true)]
    [InlineData("7f0000000000-7f0000100000 r-xp 00028000 08:01 99 /usr/lib/x86_64-linux-gnu/libc.so.6", "0 kB", true)]
    [InlineData("7f0000000000-7f0000100000 r--p 00000000 08:01 99 /usr/lib/x86_64-linux-gnu/libm.so.6 (deleted)", "0 kB", true)]
    // RELRO after the loader relocated it: read-only now, but its pages are private copies.
    [InlineData("55d0c0900000-55d0c0910000 r--p 01461000 08:01 1234 /opt/trellis/trellis-proxy", "64 kB", false)]
    // Writable, shared (the JIT's double-mapped code), anonymous and special mappings are never touched.
    [InlineData("55d0c0910000-55d0c0960000 rw-p 01462000 08:01 1234 /opt/trellis/trellis-proxy", "0 kB", false)]
    [InlineData("7f0000000000-7f0000100000 r-xs 00000000 00:01 5 /memfd:doublemapper (deleted)", "0 kB", false)]
    [InlineData("7f0000000000-7f0000100000 r--p 00000000 00:00 0 ", "0 kB", false)]
    [InlineData("7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]", "0 kB", false)]
    public void CleanMappings_OneMapping_OnlyCleanReadOnlyFilePagesReturned(string header, string anonymous, bool dropped)
    {
        string[] smaps = [header, "Size:               1024 kB", "Rss:                 512 kB", "Anonymous:      " + anonymous, "VmFlags: rd ex mr mw me"];

        var mappings = StartupMemory.CleanMappings(smaps).ToList();

        Assert.Equal(dropped ? 1 : 0, mappings.Count);
        if (dropped)
        {
            var range = header.Split(' ')[0].Split('-');
            Assert.Equal((nint)Convert.ToInt64(range[0], 16), mappings[0].Start);
            Assert.Equal((nuint)(Convert.ToInt64(range[1], 16) - Convert.ToInt64(range[0], 16)), mappings[0].Length);
        }
    }

    [Fact]
    public void CleanMappings_SeveralMappings_EachJudgedByItsOwnFields()
    {
        string[] smaps =
        [
            "1000-2000 r-xp 00000000 08:01 7 /bin/a", "Rss: 4 kB", "Anonymous: 0 kB",
            "2000-3000 r--p 00000000 08:01 7 /bin/a", "Rss: 4 kB", "Anonymous: 4 kB",
            "3000-5000 r--p 00000000 08:01 8 /lib/b.so", "Rss: 8 kB", "Anonymous: 0 kB",
        ];

        var mappings = StartupMemory.CleanMappings(smaps).ToList();

        Assert.Equal([((nint)0x1000, (nuint)0x1000), ((nint)0x3000, (nuint)0x2000)], mappings);
    }
}
