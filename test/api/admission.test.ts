import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/api/admission.js';

describe('admission control', () => {
  it('admits calls up to the cap, refuses the next, and admits again once one leaves', () => {
    const admission = new Admission(2);
    expect(admission.enter()).toBe(true);
    expect(admission.enter()).toBe(true);
    expect(admission.enter()).toBe(false);
    admission.leave();
    expect(admission.enter()).toBe(true);
  });
});
