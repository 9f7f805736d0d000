// data-exclude: path globs separated by commas and/or spaces -> one RegExp
// (null when there are none).  "*" matches within one path segment,
// "**" across segments, a trailing slash is optional: "/blog/*" matches
// /blog/a and /blog/a/ but not /blog/a/b; "/admin/**" matches everything
// below /admin/.
export const glob = (s = '') => (s = s.match(/[^\s,]+/g)) &&
  RegExp('^(' + s.join('|').replace(/\*\*?|[^\w|]/g, m => m[1] ? '.*' : m == '*' ? '[^/]*' : '\\' + m) + ')/?$')
