"""The operator's tools: `init` writes a new newsletter folder, `doctor` checks a setup end to
end, `stats` reads SendGrid's numbers for sent issues."""
