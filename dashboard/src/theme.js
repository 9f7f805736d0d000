// Light/dark theme: follows prefers-color-scheme until the user picks one
// with the toggle; the pick is kept in localStorage.

export const THEME_KEY = 'tally.theme'

export function storedTheme (storage) {
  try {
    const v = storage.getItem(THEME_KEY)
    return v === 'dark' || v === 'light' ? v : ''
  } catch (e) {
    return ''
  }
}

export function effectiveTheme (stored, prefersDark) {
  return stored || (prefersDark ? 'dark' : 'light')
}

export function saveTheme (storage, theme) {
  try { storage.setItem(THEME_KEY, theme) } catch (e) { /* private mode */ }
}
