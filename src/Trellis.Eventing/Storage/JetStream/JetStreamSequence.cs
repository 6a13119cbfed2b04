namespace Trellis.Eventing.Storage.JetStream;

/// <summary>
/// A log sequence on JetStream: the stream sequence of the message in the high bits and the event's
/// index inside it in the low <see cref="IndexBits"/>, offset so that the first event of a stream is 1.
/// An append lies whole inside one JetStream message, so it is stored whole or not at all (JetStream 2.9
/// is atomic for single messages only), and a message of several events (a batch-mode request, a reply
/// batch, appends group-committed together by <see cref="JetStreamAppender"/>) still gives each event its
/// own increasing sequence. Sequences have gaps (between messages), so the
/// log's <see cref="IEventLog.NextSequence"/> is the last event's sequence + 1: below it there is always
/// an event to read.
/// </summary>
internal static class JetStreamSequence
{
    /// <summary>Up to 2^20 events per message (a 4 MiB batch of the smallest events stays far below).</summary>
    public const int IndexBits = 20;

    public const int MaxEventsPerAppend = 1 << IndexBits;

    public static long Compose(ulong streamSequence, int index) => ((long)(streamSequence - 1) << IndexBits) + index + 1;

    /// <summary>The stream sequence of the message that holds (or would hold) <paramref name="sequence"/>; 1 for anything below the first.</summary>
    public static ulong StreamSequence(long sequence) => sequence < 1 ? 1 : (ulong)((sequence - 1) >> IndexBits) + 1;
}
