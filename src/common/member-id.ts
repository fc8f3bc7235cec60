/**
 * What a member id may be (`concord serve --id`, the membership routes, `concord cluster`):
 * 1–64 letters, digits, '.', '_' or '-', starting with a letter or digit. Every id a node
 * accepts off the wire must be one too: ids become keys of plain objects (a configuration's
 * endpoints), and one such as `__proto__` would vanish there instead of being stored.
 */
export const MEMBER_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';

const MEMBER_ID = new RegExp(MEMBER_ID_PATTERN);

export function isMemberId(value: string): boolean {
  return MEMBER_ID.test(value);
}
