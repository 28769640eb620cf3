using Fathom.Engine.Paging;

namespace Fathom.Engine.Serving;

/// <summary>
/// The scheduling policy of one step. Running sequences come first, in admission order, each with its
/// pending tokens (one for a decode step, a chunk of the prompt while prefilling) within the step's token
/// budget; when the pool runs out of pages the most recently admitted sequence is preempted (its pages are
/// released and it waits to be recomputed). Then waiting requests are admitted first come, first served,
/// while the batch has room and the pool has pages for their whole prompt.
/// </summary>
internal sealed class BatchPlanner(KvCacheManager kv, int maxBatch, int stepTokens)
{
    public long Preemptions { get; private set; }

    public void Plan(List<Sequence> running, LinkedList<Sequence> waiting, BatchPlan plan)
    {
        plan.Clear();
        int budget = stepTokens;
        for (int i = 0; i < running.Count && budget > 0; i++)
        {
            var seq = running[i];
            int want = Math.Min(seq.PendingCount, budget);
            while (!kv.TryReserve(seq.Cache, seq.Cache.Length + want))
            {
                var victim = running[^1];
                if (ReferenceEquals(victim, seq))
                {
                    running.RemoveAt(i--);
                    if (running.Count == 0 && plan.Count == 0)
                    {
                        kv.Release(seq.Cache);
                        plan.Exhausted.Add(seq);
                    }
                    else
                    {
                        Preempt(seq, waiting);
                    }

                    want = 0;
                    break;
                }

                running.RemoveAt(running.Count - 1);
                Preempt(victim, waiting);
            }

            if (want > 0)
            {
                plan.Add(seq, want);
                budget -= want;
            }
        }

        while (waiting.First is { } node && running.Count < maxBatch && budget > 0)
        {
            var seq = node.Value;
            int reused = kv.AttachPrefix(seq.Cache, seq.Tokens);
            if (kv.PagesFor(seq.Count + 1) - seq.Cache.Pages.Count > kv.AvailablePages)
            {
                kv.Release(seq.Cache);
                break;
            }

            int want = Math.Min(seq.PendingCount, budget);
            kv.TryReserve(seq.Cache, seq.Cache.Length + want);
            if (seq.CachedPromptTokens < 0)
            {
                seq.CachedPromptTokens = reused;
                kv.RecordLookup(seq.PromptLength, reused);
            }

            waiting.RemoveFirst();
            running.Add(seq);
            plan.Add(seq, want);
            budget -= want;
        }
    }

    private void Preempt(Sequence seq, LinkedList<Sequence> waiting)
    {
        kv.Release(seq.Cache);
        waiting.AddFirst(seq);
        Preemptions++;
    }
}
