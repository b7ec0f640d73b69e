import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DeadLetterNote } from '#lib/jobs/dead-letter';
import { JOB_DEFAULTS } from '#lib/jobs/handler';
import { type BatchCounts, type MessageReport, runBatch } from '#lib/jobs/runner';
import { DETAIL_TYPES, type JobKind } from '#lib/jobs/schema';
import type { JobDefinition } from '#lib/jobs/targets';
import { eventBridgeBody, LOCAL_EVENTBRIDGE_SENDER, lambdaContext, localProvenance, sqsEvent } from './events.ts';
import { PROJECT_ROOT, queueFunctions } from './routes.ts';

/**
 * Runs a job consumer in this process on real SQS events built from `messages`, the way the
 * console's "Jobs" card does; dead-lettering is recorded instead of sent.
 */
export interface LocalJobResult {
  counts: BatchCounts;
  messages: Array<MessageReport & { deadLetter?: DeadLetterNote }>;
}

export async function runJobInProcess(kind: JobKind, messages: unknown[], options: { eventBridge?: boolean } = {}): Promise<LocalJobResult> {
  const spec = queueFunctions().find((f) => f.modulePath === `functions/job-${kind}`);
  if (!spec) throw new Error(`serverless.yml declares no SQS function for ${kind}`);
  const { job } = (await import(pathToFileURL(join(PROJECT_ROOT, `${spec.modulePath}.ts`)).href)) as { job: JobDefinition };
  // As SQS would hold them: our rule's deliveries (wrapped, sent by EventBridge), or plain messages.
  const bodies = messages.map((m) => (typeof m === 'string' ? m : options.eventBridge ? eventBridgeBody(DETAIL_TYPES[kind], m) : JSON.stringify(m)));
  const deadLettered = new Map<string, DeadLetterNote>();
  const event = sqsEvent(bodies, {
    queueName: `authgate-local-${kind}`,
    ...(options.eventBridge ? { senderIds: bodies.map(() => LOCAL_EVENTBRIDGE_SENDER) } : {}),
  });
  const report = await runBatch(job, event.Records, lambdaContext({ functionName: spec.functionName, timeoutMs: spec.timeoutSeconds * 1000 }), {
    ...JOB_DEFAULTS,
    provenance: localProvenance(kind),
    deadLetter: async (record, note) => {
      deadLettered.set(record.messageId, note);
    },
  });
  return {
    counts: report.counts,
    messages: report.messages.map((m) => {
      const note = deadLettered.get(m.messageId);
      return note ? { ...m, deadLetter: note } : m;
    }),
  };
}
