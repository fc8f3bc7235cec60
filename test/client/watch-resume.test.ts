// The pure parts of watching: the SSE parser and where a watch resumes after a break.
import { describe, expect, it } from 'vitest';
import { ResumePoint } from '../../src/client/resume-point.ts';
import { SseParser } from '../../src/client/sse.ts';

describe('SseParser', () => {
  it('parses frames split anywhere, skips comments, joins data lines, parses JSON', () => {
    const parser = new SseParser();
    const text = 'event: put\nid: 5\ndata: {"key":"a","modRevision":5}\n\n: keepalive\n\nevent: progress\r\ndata: {"revision":9}\r\n\r\ndata: line1\ndata: line2\n\n';
    const events = [];
    for (let i = 0; i < text.length; i += 7) events.push(...parser.push(text.slice(i, i + 7)));
    expect(events).toEqual([
      { event: 'put', id: '5', data: { key: 'a', modRevision: 5 } },
      { event: 'progress', data: { revision: 9 } },
      { event: 'message', data: 'line1\nline2' },
    ]);
  });
});

describe('ResumePoint', () => {
  it('from a revision: resumes after the last complete revision', () => {
    const resume = new ResumePoint(10);
    expect(resume.nextFromRevision()).toBe(10);
    expect(resume.accept(10)).toBe(true);
    expect(resume.accept(12)).toBe(true);
    // Revision 12 may have had more events: resume at 12 and skip the one already seen.
    expect(resume.nextFromRevision()).toBe(12);
    expect(resume.accept(12)).toBe(false); // the re-sent duplicate
    expect(resume.accept(12)).toBe(true); // the second event of revision 12, new
    expect(resume.accept(13)).toBe(true);
    expect(resume.accept(11)).toBe(false);
  });

  it('a txn revision cut in the middle: no event lost, none repeated', () => {
    const resume = new ResumePoint(1);
    const history = [1, 2, 3, 3, 3, 4];
    const delivered: number[] = [];
    // First connection delivers 1, 2 and two of revision 3's three events, then breaks.
    for (const revision of history.slice(0, 4)) if (resume.accept(revision)) delivered.push(revision);
    const from = resume.nextFromRevision();
    expect(from).toBe(3);
    for (const revision of history.filter((revision) => revision >= (from ?? 0))) if (resume.accept(revision)) delivered.push(revision);
    expect(delivered).toEqual(history);
  });

  it('progress marks everything through its revision delivered; from now starts at the stream revision', () => {
    const resume = new ResumePoint(undefined);
    expect(resume.nextFromRevision()).toBeUndefined();
    resume.started(20);
    expect(resume.nextFromRevision()).toBe(21);
    expect(resume.accept(20)).toBe(false);
    expect(resume.accept(21)).toBe(true);
    resume.through(30);
    expect(resume.nextFromRevision()).toBe(31);
    expect(resume.accept(30)).toBe(false);
  });
});
