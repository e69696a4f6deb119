"""Billing: tariffs, family financial profiles, charge lines, invoices, credit notes, payments, balances."""
