using Fathom.Model;

namespace Fathom.Engine.Serving;

/// <summary>The scheduler thread: the step loop and the work of each part of a step.</summary>
public sealed partial class Scheduler
{
    private readonly List<Sequence> _done = [];

    private void Loop()
    {
        while (!Step())
        {
        }
    }

    /// <summary>
    /// One scheduling step; true when the scheduler has stopped. A fault inside a step ends the requests
    /// it touched with the error, never the thread (the server stays up).
    /// </summary>
    private bool Step()
    {
        try
        {
            return StepCore();
        }
#pragma warning disable CA1031 // the scheduler thread must survive any fault of one step
        catch (Exception e)
#pragma warning restore CA1031
        {
            foreach (var seq in _running)
            {
                Finish(seq, FinishReason.Cancelled, $"the engine failed: {e.GetType().Name}: {e.Message}");
            }

            _running.Clear();
            Report();
            return false;
        }
    }

    private bool StepCore()
    {
        TakeIncoming();
        DropCancelled();
        if (_stopping)
        {
            CancelAll();
            return true;
        }

        _planner.Plan(_running, _waiting, _plan);
        CountAdmissions();
        if (_plan.Count == 0)
        {
            Report();
            _wake.WaitOne();
            return false;
        }

        if (RunForward())
        {
            SampleAndPublish();
        }

        Report();
        return false;
    }

    private void TakeIncoming()
    {
        while (_incoming.TryDequeue(out var seq))
        {
            _waiting.AddLast(seq);
        }
    }

    private void DropCancelled()
    {
        for (int i = _running.Count - 1; i >= 0; i--)
        {
            if (_running[i].Request.Cancellation.IsCancellationRequested)
            {
                Finish(_running[i], FinishReason.Cancelled);
                _running.RemoveAt(i);
            }
        }

        for (var node = _waiting.First; node is not null;)
        {
            var next = node.Next;
            if (node.Value.Request.Cancellation.IsCancellationRequested)
            {
                _waiting.Remove(node);
                Finish(node.Value, FinishReason.Cancelled);
            }

            node = next;
        }
    }

    private void CountAdmissions()
    {
        for (int i = 0; i < _plan.Count; i++)
        {
            var seq = _plan.Sequence(i);
            if (!seq.Dequeued)
            {
                seq.Dequeued = true;
                Interlocked.Decrement(ref _queued);
                Statistics.Admitted(seq.PromptLength);
            }
        }

        foreach (var seq in _plan.Exhausted)
        {
            Finish(seq, FinishReason.Length);
        }
    }

    /// <summary>One forward pass over every planned sequence; on failure the planned requests end with the error.</summary>
    private bool RunForward()
    {
        for (int i = 0; i < _plan.Count; i++)
        {
            var seq = _plan.Sequence(i);
            _entries[i] = new BatchEntry(seq.Pending(_plan.Tokens(i)), seq.Cache.Storage);
        }

        try
        {
            int k = CandidatesForStep();
            _stepCandidates = k > 0;
            if (_stepCandidates)
            {
                _transformer.Forward(_entries.AsSpan(0, _plan.Count), _candidates!, k);
            }
            else
            {
                _transformer.Forward(_entries.AsSpan(0, _plan.Count), _logits);
            }

            Statistics.Step(_plan.Count, _planner.Preemptions);
            return true;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or OutOfMemoryException)
        {
            for (int i = 0; i < _plan.Count; i++)
            {
                Finish(_plan.Sequence(i), FinishReason.Cancelled, $"the engine failed: {e.Message}");
                _running.Remove(_plan.Sequence(i));
            }

            return false;
        }
        finally
        {
            _entries.AsSpan(0, _plan.Count).Clear();
        }
    }

    /// <summary>
    /// Candidates per row the step needs when the pass can return only each row's best logits (every
    /// planned request greedy or top-k without penalties or logprobs); 0: whole logits rows.
    /// </summary>
    private int CandidatesForStep()
    {
        if (_candidates is null)
        {
            return 0;
        }

        int k = 0;
        for (int i = 0; i < _plan.Count; i++)
        {
            var seq = _plan.Sequence(i);
            int needed = seq.Sampler.CandidatesNeeded;
            if (needed > 0 && seq.Request.TopLogprobs >= 0)
            {
                // The chosen token is among the sampler's candidates, so its log-probability is too;
                // the top log-probabilities are the first candidates.
                needed = Math.Max(needed, seq.Request.TopLogprobs);
            }

            if (needed == 0 || needed > _candidates.MaxK)
            {
                return 0;
            }

            k = Math.Max(k, needed);
        }

        return k;
    }

    private void SampleAndPublish()
    {
        int vocab = _transformer.VocabSize;
        for (int i = 0; i < _plan.Count; i++)
        {
            var seq = _plan.Sequence(i);
            _kv.PublishFullPages(seq.Cache, seq.Tokens);
            if (seq.PendingCount > 0)
            {
                continue;   // still prefilling: this chunk's logits are not needed
            }

            int next;
            TokenLogprob? logprob = null;
            if (_stepCandidates)
            {
                var values = _candidates!.Values(i);
                var ids = _candidates.Ids(i);
                next = seq.Sampler.Sample(values, ids);
                if (seq.Request.TopLogprobs >= 0)
                {
                    logprob = LogprobCalculator.FromCandidates(values, ids, _candidates.LogSumExp[i], next, seq.Request.TopLogprobs);
                }
            }
            else
            {
                var logits = _logits.AsSpan(i * vocab, vocab);
                if (seq.RawLogits is { } raw)
                {
                    // Before sampling: penalties and temperature work on the row in place.
                    logits.CopyTo(raw);
                }

                next = seq.Sampler.Sample(logits);
                if (seq.RawLogits is { } rawRow)
                {
                    logprob = LogprobCalculator.Compute(rawRow, next, seq.Request.TopLogprobs);
                }
            }

            seq.Sampler.Accept(next);
            seq.Append(next);
            Statistics.Generated();
            if (Emit(seq, next, logprob) is { } reason)
            {
                Finish(seq, reason);
                _done.Add(seq);
            }
        }

        foreach (var seq in _done)
        {
            _running.Remove(seq);
        }

        _done.Clear();
    }

    /// <summary>Publishes a sampled token; returns why the request ends, or null to go on.</summary>
    private FinishReason? Emit(Sequence seq, int next, TokenLogprob? logprob)
    {
        var stop = seq.Request.Stop;
        bool isEos = !stop.IgnoreEos && _eosIds.Contains(next);
        bool isStopToken = stop.StopTokenIds.Contains(next);
        string piece = seq.Decoder is null || isEos || isStopToken ? string.Empty : seq.Stops.Push(seq.Decoder.Push(next));
        seq.Handle.Publish(new RequestEvent(next, piece, logprob, null));
        if (isEos || isStopToken || seq.Stops.Stopped)
        {
            return FinishReason.Stop;
        }

        return seq.Generated >= stop.MaxTokens || seq.Count >= _options.MaxContext ? FinishReason.Length : null;
    }

    /// <summary>Ends a request: releases its text and pages at once and completes its channel. The caller removes it from the lists.</summary>
    private void Finish(Sequence seq, FinishReason reason, string? error = null)
    {
        if (reason != FinishReason.Stop && seq.Decoder is not null && error is null)
        {
            string rest = seq.Stops.Push(seq.Decoder.Flush()) + seq.Stops.Flush();
            if (rest.Length > 0)
            {
                seq.Handle.Publish(new RequestEvent(-1, rest, null, null));
            }
        }

        if (!seq.Dequeued)
        {
            seq.Dequeued = true;
            Interlocked.Decrement(ref _queued);
        }

        _kv.Release(seq.Cache);
        seq.Handle.Publish(new RequestEvent(-1, string.Empty, null, new RequestCompletion(
            reason, seq.PromptLength, seq.Generated, Math.Max(0, seq.CachedPromptTokens), seq.Sampler.Seed, error)));
        seq.Handle.Complete();
    }

    private void CancelAll()
    {
        foreach (var seq in _running)
        {
            Finish(seq, FinishReason.Cancelled);
        }

        foreach (var seq in _waiting)
        {
            Finish(seq, FinishReason.Cancelled);
        }

        _running.Clear();
        _waiting.Clear();
        TakeIncoming();
        foreach (var seq in _waiting)
        {
            Finish(seq, FinishReason.Cancelled);
        }

        _waiting.Clear();
        Report();
    }

    private void Report()
    {
        Statistics.SetQueues(_running.Count, _waiting.Count + _incoming.Count, _kv.UsedPages);
        Statistics.SetPrefix(_kv.LookupTokens, _kv.HitTokens);
    }
}
