// Schedules: weekly windows in real IANA time zones, daylight saving included.
// 2026: Europe/Berlin switches on 29 March (01:00 UTC, 02:00 -> 03:00) and on
// 25 October (01:00 UTC, 03:00 -> 02:00); America/New_York on 8 March
// (07:00 UTC) and 1 November (06:00 UTC).
import { agent, policy, type Agent } from './helpers.js';

function scheduled(timezone: string, windows: string): Agent {
  return agent([policy('hours', `
    podSelector: {}
    rules:
      - name: in-hours
        to: {hosts: [crm.internal]}
        schedule:
          timezone: ${timezone}
          windows: ${windows}
  `)]);
}

const utc = (month: number, day: number, hour: number, minute = 0): number => Date.UTC(2026, month - 1, day, hour, minute);

function allowedAt(a: Agent, atMs: number): boolean {
  return a.check({ url: 'https://crm.internal/customers' }, { time: atMs }).allowed;
}

/** [what, instant, expected] rows, reported with their description when one fails. */
function expectAll(a: Agent, rows: readonly (readonly [string, number, boolean])[]): void {
  const got = rows.map(([what, at]) => [what, allowedAt(a, at)]);
  expect(got).toEqual(rows.map(([what, , want]) => [what, want]));
}

describe('a Europe/Berlin window 08:00-18:00 Mon-Fri', () => {
  const berlin = scheduled('Europe/Berlin', '[{days: [Mon, Tue, Wed, Thu, Fri], start: "08:00", end: "18:00"}]');

  it('follows CET (UTC+1) in winter, start inclusive and end exclusive', () => {
    expectAll(berlin, [
      ['Tue 3 Mar 07:59 CET', utc(3, 3, 6, 59), false],
      ['Tue 3 Mar 08:00 CET', utc(3, 3, 7, 0), true],
      ['Tue 3 Mar 17:59 CET', utc(3, 3, 16, 59), true],
      ['Tue 3 Mar 18:00 CET', utc(3, 3, 17, 0), false],
      ['Tue 13 Jan 12:00 CET', utc(1, 13, 11), true],
    ]);
  });

  it('follows CEST (UTC+2) in summer', () => {
    expectAll(berlin, [
      ['Tue 7 Jul 07:59 CEST', utc(7, 7, 5, 59), false],
      ['Tue 7 Jul 08:00 CEST', utc(7, 7, 6, 0), true],
      ['Tue 7 Jul 17:59 CEST', utc(7, 7, 15, 59), true],
      ['Tue 7 Jul 18:00 CEST (17:00 in CET)', utc(7, 7, 16, 0), false],
    ]);
  });

  it('shifts by an hour in UTC across the spring switch of 29 March', () => {
    expectAll(berlin, [
      ['Fri 27 Mar 08:30 CET', utc(3, 27, 7, 30), true],
      ['Fri 27 Mar 17:30 CET', utc(3, 27, 16, 30), true],
      ['Sun 29 Mar 10:00 CEST (a Sunday)', utc(3, 29, 8), false],
      ['Mon 30 Mar 07:30 CEST (08:30 in CET would be inside)', utc(3, 30, 5, 30), false],
      ['Mon 30 Mar 08:30 CEST', utc(3, 30, 6, 30), true],
      ['Mon 30 Mar 18:30 CEST (17:30 in CET would be inside)', utc(3, 30, 16, 30), false],
    ]);
  });

  it('shifts back across the autumn switch of 25 October', () => {
    expectAll(berlin, [
      ['Fri 23 Oct 07:30 CEST', utc(10, 23, 5, 30), false],
      ['Fri 23 Oct 17:30 CEST', utc(10, 23, 15, 30), true],
      ['Mon 26 Oct 07:30 CET (08:30 in CEST would be inside)', utc(10, 26, 6, 30), false],
      ['Mon 26 Oct 08:30 CET', utc(10, 26, 7, 30), true],
      ['Mon 26 Oct 17:30 CET (18:30 in CEST would be outside)', utc(10, 26, 16, 30), true],
    ]);
  });

  it('is closed at the weekend', () => {
    expectAll(berlin, [
      ['Sat 7 Mar 10:00 CET', utc(3, 7, 9), false],
      ['Sun 8 Mar 10:00 CET', utc(3, 8, 9), false],
    ]);
  });

  it('says in the default-deny reason that the rule is outside its schedule', () => {
    const d = berlin.check({ url: 'https://crm.internal/' }, { time: utc(3, 7, 9) });
    expect(d).toMatchObject({ allowed: false, rule: 'default-deny' });
    expect(d.reason).toContain('rule "in-hours" did not match: outside its schedule');
  });
});

describe('the days of a window', () => {
  it('are local days: Monday 00:30 in Berlin is still Sunday in UTC', () => {
    const monday = scheduled('Europe/Berlin', '[{days: [Mon], start: "00:00", end: "01:00"}]');
    expectAll(monday, [
      ['Mon 2 Mar 00:30 CET = Sun 23:30 UTC', utc(3, 1, 23, 30), true],
      ['Mon 2 Mar 01:30 CET = Mon 00:30 UTC', utc(3, 2, 0, 30), false],
    ]);
  });

  it('default to every day when omitted', () => {
    const daily = scheduled('UTC', '[{start: "09:00", end: "10:00"}]');
    for (let day = 1; day <= 7; day++) expect(allowedAt(daily, utc(3, day, 9, 30))).toBe(true);
  });
});

describe('windows around the clock change itself', () => {
  const sundayTwoToThree = scheduled('Europe/Berlin', '[{days: [Sun], start: "02:00", end: "03:00"}]');

  it('never open a window that lies in the hour skipped on 29 March', () => {
    expectAll(sundayTwoToThree, [
      ['Sun 22 Mar 02:30 CET', utc(3, 22, 1, 30), true],
      ['Sun 29 Mar 01:59 CET', utc(3, 29, 0, 59), false],
      ['Sun 29 Mar 03:00 CEST', utc(3, 29, 1, 0), false],
      ['Sun 29 Mar 03:30 CEST', utc(3, 29, 1, 30), false],
    ]);
  });

  it('open the window twice in the hour repeated on 25 October', () => {
    expectAll(sundayTwoToThree, [
      ['Sun 25 Oct 01:59 CEST', utc(10, 24, 23, 59), false],
      ['Sun 25 Oct 02:30 CEST', utc(10, 25, 0, 30), true],
      ['Sun 25 Oct 02:30 CET', utc(10, 25, 1, 30), true],
      ['Sun 25 Oct 03:00 CET', utc(10, 25, 2, 0), false],
    ]);
  });

  it('reach midnight with end 24:00', () => {
    const evening = scheduled('Europe/Berlin', '[{days: [Tue], start: "22:00", end: "24:00"}]');
    expectAll(evening, [
      ['Tue 3 Mar 23:59 CET', utc(3, 3, 22, 59), true],
      ['Wed 4 Mar 00:00 CET', utc(3, 3, 23, 0), false],
    ]);
  });

  it('open when any of several windows does', () => {
    const split = scheduled('Europe/Berlin', '[{days: [Fri], start: "22:00", end: "24:00"}, {days: [Sat], start: "00:00", end: "02:00"}]');
    expectAll(split, [
      ['Fri 6 Mar 23:00 CET', utc(3, 6, 22), true],
      ['Sat 7 Mar 01:00 CET', utc(3, 7, 0), true],
      ['Sat 7 Mar 02:00 CET', utc(3, 7, 1), false],
    ]);
  });
});

describe('an America/New_York window 09:00-17:00 Mon-Fri', () => {
  const newYork = scheduled('America/New_York', '[{days: [Mon, Tue, Wed, Thu, Fri], start: "09:00", end: "17:00"}]');

  it('follows EST (UTC-5) in winter', () => {
    expectAll(newYork, [
      ['Mon 2 Mar 08:59 EST', utc(3, 2, 13, 59), false],
      ['Mon 2 Mar 09:00 EST', utc(3, 2, 14, 0), true],
      ['Mon 2 Mar 16:59 EST', utc(3, 2, 21, 59), true],
      ['Mon 2 Mar 17:00 EST', utc(3, 2, 22, 0), false],
    ]);
  });

  it('follows EDT (UTC-4) after 8 March', () => {
    expectAll(newYork, [
      ['Fri 6 Mar 08:30 EST', utc(3, 6, 13, 30), false],
      ['Mon 9 Mar 09:30 EDT (08:30 in EST)', utc(3, 9, 13, 30), true],
      ['Mon 9 Mar 16:30 EDT (15:30 in EST)', utc(3, 9, 20, 30), true],
      ['Mon 9 Mar 17:30 EDT (16:30 in EST would be inside)', utc(3, 9, 21, 30), false],
    ]);
  });

  it('follows EST again after 1 November', () => {
    expectAll(newYork, [
      ['Fri 30 Oct 09:30 EDT', utc(10, 30, 13, 30), true],
      ['Mon 2 Nov 08:30 EST (09:30 in EDT would be inside)', utc(11, 2, 13, 30), false],
      ['Mon 2 Nov 09:30 EST', utc(11, 2, 14, 30), true],
    ]);
  });

  it('uses the New York weekday: Friday 20:00 EDT is Saturday in UTC', () => {
    const fridayEvening = scheduled('America/New_York', '[{days: [Fri], start: "19:00", end: "21:00"}]');
    expectAll(fridayEvening, [['Fri 10 Jul 20:00 EDT = Sat 00:00 UTC', utc(7, 11, 0), true]]);
  });
});

describe('the same instant in two zones', () => {
  it('opens the Berlin window and not the New York one at 10:00 Berlin time', () => {
    const at = utc(7, 7, 8);
    expect(allowedAt(scheduled('Europe/Berlin', '[{start: "09:00", end: "17:00"}]'), at)).toBe(true);
    expect(allowedAt(scheduled('America/New_York', '[{start: "09:00", end: "17:00"}]'), at)).toBe(false);
  });
});
