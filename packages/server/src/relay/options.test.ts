import { LatchkeyError } from '@latchkey/core';
import { describe, expect, it } from 'vitest';
import { type RelayOptions, resolveRelayOptions } from './options.js';

describe('relay options', () => {
  it('bound what one node holds and what one client address may do, by default', () => {
    expect(resolveRelayOptions({})).toMatchObject({
      maxChannels: 10_000,
      maxBufferedBytes: 64 * 1_048_576,
      maxConnectionsPerAddress: 64,
      joinsPerMinutePerAddress: 120,
    });
    expect(resolveRelayOptions({ maxConnectionsPerAddress: 0, joinsPerMinutePerAddress: 0 })).toMatchObject({
      maxConnectionsPerAddress: 0,
      joinsPerMinutePerAddress: 0,
    });
  });

  it.each<[RelayOptions, string]>([
    [{ maxChannels: 0 }, 'relay.maxChannels'],
    [{ maxChannels: 1.5 }, 'relay.maxChannels'],
    [{ maxBufferedBytes: 1000 }, 'relay.maxBufferedBytes'],
    [{ bufferBytes: 2_000_000, maxBufferedBytes: 1_500_000 }, 'relay.maxBufferedBytes'],
    [{ maxConnectionsPerAddress: -1 }, 'relay.maxConnectionsPerAddress'],
    [{ joinsPerMinutePerAddress: '10' as unknown as number }, 'relay.joinsPerMinutePerAddress'],
  ])('refuses %j at construction, naming the field', (options, field) => {
    let thrown: unknown;
    try {
      resolveRelayOptions(options);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(LatchkeyError);
    expect(thrown).toMatchObject({ code: 'CONFIG_INVALID', field });
  });
});
