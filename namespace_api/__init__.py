"""Everything that talks to, or stands in for, the external namespace API (Moorcheh)."""
